import base64, hashlib, hmac, time

def verify(secret, headers, body, now=None):
    """Raise ValueError unless the delivery is signed with secret (whsec_...).

    headers maps lower-case header names to values; body is the raw bytes received.
    """
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs((now or time.time()) - int(ts)) > 5 * 60:
        raise ValueError("timestamp outside the tolerance")
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in headers["webhook-signature"].split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return
    raise ValueError("no valid signature")
