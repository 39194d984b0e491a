// What the browser test needs besides the browser: an https webhook receiver with a
// certificate of its own (made by Go's generate_cert, as Go is needed anyway), the
// Standard Webhooks signature check, and RFC 6238 TOTP codes.

import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// makeCert writes cert.pem and key.pem for 127.0.0.1 into dir and returns their paths.
export async function makeCert(dir) {
  const { stdout } = await run('go', ['env', 'GOROOT'], { timeout: 30_000 });
  const tool = join(stdout.trim(), 'src', 'crypto', 'tls', 'generate_cert.go');
  await run('go', ['run', tool, '--host', '127.0.0.1', '--ecdsa-curve', 'P256', '--duration', '2h'], { cwd: dir, timeout: 120_000 });
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

// Receiver records every delivery in order and answers 204.
export class Receiver {
  deliveries = [];
  #server;

  async start({ cert, key }) {
    this.#server = createServer({ cert: await readFile(cert), key: await readFile(key) }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        this.deliveries.push({ path: req.url, id: req.headers['webhook-id'], timestamp: req.headers['webhook-timestamp'],
          signature: req.headers['webhook-signature'] ?? '', body, json: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise((ok) => this.#server.listen(0, '127.0.0.1', ok));
    this.url = `https://127.0.0.1:${this.#server.address().port}/hook`;
  }

  // waitFor resolves to the first delivery that matches, waiting for it at most 20 seconds.
  async waitFor(match, what) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const d = this.deliveries.find(match);
      if (d) return d;
      if (Date.now() > deadline) throw new Error(`no webhook delivery of ${what}; got ${this.deliveries.map((x) => x.id).join(', ')}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }

  stop() {
    return new Promise((ok) => (this.#server ? this.#server.close(ok) : ok()));
  }
}

// signedBy reports whether one of the delivery's signatures is made with secret (whsec_...).
export function signedBy(secret, d) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const want = createHmac('sha256', key).update(`${d.id}.${d.timestamp}.${d.body}`).digest('base64');
  return d.signature.split(' ').includes(`v1,${want}`);
}

// totp is the current RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret.
export function totp(base32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...base32.replace(/=+$/, '')].map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0')).join('');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
