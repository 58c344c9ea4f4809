// A scripted broker (see support.mjs `scriptedBroker`), in a process of its own: the Node.js
// entry's connect blocks its event loop until CONNACK, so a broker in the test's own process
// could never answer. argv[2]: the SUBACK reason code. Prints its port, then serves.
import { createServer } from 'node:net';

const subackCode = Number(process.argv[2]);
const sockets = new Set();
const server = createServer((sock) => {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => {});
  let buf = Buffer.alloc(0);
  let v5 = true;
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      // Fixed header: type, remaining length (variable byte integer).
      let len = 0, mul = 1, i = 1;
      for (;; i++) {
        if (i >= buf.length) return;
        len += (buf[i] & 0x7f) * mul;
        mul *= 128;
        if ((buf[i] & 0x80) === 0) break;
      }
      const start = i + 1;
      if (buf.length < start + len) return;
      const type = buf[0] >> 4;
      const body = buf.subarray(start, start + len);
      buf = buf.subarray(start + len);
      if (type === 1) { // CONNECT: "MQTT", then the protocol level
        v5 = body[6] === 5;
        sock.write(Buffer.from(v5 ? [0x20, 3, 0, 0, 0] : [0x20, 2, 0, 0]));
      } else if (type === 8) { // SUBSCRIBE: packet id, (v5) properties, filters
        let p = 2;
        if (v5) { let pl = 0, m = 1; for (;; p++) { pl += (body[p] & 0x7f) * m; m *= 128; if ((body[p] & 0x80) === 0) break; } p += 1 + pl; }
        let n = 0;
        while (p < body.length) { const fl = body.readUInt16BE(p); p += 2 + fl + 1; n++; }
        const payload = [body[0], body[1], ...(v5 ? [0] : []), ...Array(n).fill(v5 ? subackCode : 0x80)];
        sock.write(Buffer.from([0x90, payload.length, ...payload]));
      } else if (type === 12) { // PINGREQ
        sock.write(Buffer.from([0xd0, 0]));
      }
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
