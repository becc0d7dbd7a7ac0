/**
 * Address classification against the IANA IPv4/IPv6 Special-Purpose Address
 * Registries (RFC 6890 and updates) and RFC 5952 text form. Expected ranges
 * are taken from the registries, one address inside and one just outside
 * each block boundary.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalIp, classifyAddress, parseIp } from "../src/index.ts";

const nonPublic: [string, string][] = [
  ["0.0.0.0", "this-network"],
  ["0.255.255.255", "this-network"],
  ["10.0.0.1", "rfc1918"],
  ["10.255.255.255", "rfc1918"],
  ["100.64.0.0", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["127.0.0.1", "loopback"],
  ["127.168.200.200", "loopback"],
  ["169.254.1.1", "link-local"],
  ["172.16.0.1", "rfc1918"],
  ["172.31.255.255", "rfc1918"],
  ["192.0.0.8", "ietf-protocol"],
  ["192.0.2.1", "documentation"],
  ["192.88.99.1", "6to4-relay"],
  ["192.168.200.200", "rfc1918"],
  ["198.18.0.1", "benchmarking"],
  ["198.19.255.255", "benchmarking"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.255", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "broadcast"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.1.2.3", "rfc1918"],
  ["::ffff:192.168.1.1", "rfc1918"],
  ["64:ff9b::a00:1", "rfc1918"],
  ["::8.8.8.8", "ipv4-compatible"],
  ["64:ff9b:1::1", "nat64-local"],
  ["100::1", "discard-only"],
  ["2001:db8::25", "documentation"],
  ["2001::1", "ietf-protocol"],
  ["2002:c000:204::1", "6to4"],
  ["3fff::1", "documentation"],
  ["5f00::1", "srv6-sid"],
  ["fc00::1", "ula"],
  ["fd12:3456::1", "ula"],
  ["fe80::1", "link-local"],
  ["fe80::1%eth0", "link-local"],
  ["febf::1", "link-local"],
  ["fec0::1", "site-local"],
  ["ff02::1", "multicast"],
  ["4000::1", "reserved"],
  ["1::1", "reserved"],
  ["not an ip", "invalid"],
  ["", "invalid"],
  ["1.2.3", "invalid"],
  ["1.2.3.4.5", "invalid"],
  ["256.1.1.1", "invalid"],
  ["01.2.3.4", "invalid"],
  ["1:2:3:4:5:6:7:8:9", "invalid"],
  ["1::2::3", "invalid"],
  ["12345::1", "invalid"],
];

const isPublic = [
  "8.8.8.8",
  "9.255.255.255",
  "11.0.0.0",
  "100.63.255.255",
  "100.128.0.0",
  "172.15.255.255",
  "172.32.0.0",
  "192.0.1.255",
  "192.31.196.1",
  "192.167.255.255",
  "192.169.0.0",
  "198.17.255.255",
  "198.20.0.0",
  "223.255.255.255",
  "38.64.93.21",
  "2a00:1450:4001:80b::201a",
  "2001:200::1",
  "2606:4700::6810:84e5",
  "::ffff:8.8.8.8",
  "64:ff9b::808:808",
  "3ffe::1",
];

test("non-public addresses name their IANA range", () => {
  for (const [ip, range] of nonPublic) {
    assert.deepEqual(classifyAddress(ip), { public: false, range }, ip);
  }
});

test("public addresses, including the neighbours of every special block", () => {
  for (const ip of isPublic) assert.deepEqual(classifyAddress(ip), { public: true }, ip);
});

test("parseIp and canonicalIp follow RFC 4291 / RFC 5952", () => {
  assert.deepEqual([...parseIp("1.2.3.4")!], [1, 2, 3, 4]);
  assert.equal(parseIp("::1")!.length, 16);
  assert.equal(canonicalIp("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(canonicalIp("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"); // first of equal runs
  assert.equal(canonicalIp("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); // a single zero group stays
  assert.equal(canonicalIp("::ffff:7f00:1"), "::ffff:127.0.0.1");
  assert.equal(canonicalIp("0:0:0:0:0:0:0:0"), "::");
  assert.equal(canonicalIp("fe80::1%eth0"), "fe80::1");
  assert.equal(canonicalIp("127.000.0.1"), undefined);
  assert.equal(canonicalIp(undefined as unknown as string), undefined);
});
