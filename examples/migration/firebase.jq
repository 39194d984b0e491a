# Firebase's auth:export JSON (firebase auth:export users.json --format=json) as jeton
# import lines. The project's password hash parameters come from the Firebase console
# (Authentication, Users, "Password hash parameters"):
#   jq -c -f firebase.jq --arg signer_key "$BASE64_SIGNER_KEY" --arg salt_separator "$BASE64_SALT_SEPARATOR" \
#      --argjson rounds 8 --argjson mem_cost 14 firebase-export.json > firebase.ndjson
.users[] | select(.passwordHash != null) | {
  username: .email,
  password_hash: {
    algorithm: "firebase-scrypt", hash: .passwordHash, salt: .salt,
    signer_key: $signer_key, salt_separator: $salt_separator, rounds: $rounds, mem_cost: $mem_cost
  },
  disabled: (.disabled // false),
  created_at: (.createdAt | tonumber / 1000 | todate),
  external_id: .localId
}
