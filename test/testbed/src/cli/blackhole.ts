/**
 * A name server that never answers: binds UDP and TCP on ADDRESS:PORT, reads
 * every query and replies to none, so resolvers time out (rather than get ICMP
 * port-unreachable or a TCP reset). Runs until SIGTERM/SIGINT.
 *
 *   node blackhole.ts ADDRESS PORT
 *
 * Exits 1 if it cannot bind (address in use, no permission), 2 on bad usage.
 */
import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";

const [address, portText] = process.argv.slice(2);
const port = Number(portText);
if (!address || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: blackhole.ts ADDRESS PORT");
  process.exit(2);
}
let received = 0;
const udp = createSocket("udp4");
udp.on("message", () => {
  received++;
});
udp.on("error", (e) => {
  console.error(`blackhole: udp ${address}:${port}: ${e.message}`);
  process.exit(1);
});
udp.bind(port, address);

const held = new Set<Socket>();
const tcp = createServer((s) => {
  held.add(s);
  s.on("data", () => {
    received++;
  });
  s.on("error", () => held.delete(s));
  s.on("close", () => held.delete(s));
});
tcp.on("error", (e) => {
  console.error(`blackhole: tcp ${address}:${port}: ${e.message}`);
  process.exit(1);
});
tcp.listen(port, address, () => console.log(`blackhole: listening on ${address}:${port} (udp, tcp)`));

const stop = () => {
  console.log(`blackhole: stopping after ${received} unanswered queries`);
  for (const s of held) s.destroy();
  udp.close();
  tcp.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
