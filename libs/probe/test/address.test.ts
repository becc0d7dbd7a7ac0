/**
 * Address classification against the IANA IPv4/IPv6 Special-Purpose Address
 * Registries (RFC 6890 and updates), the IPv4-in-IPv6 unwrapping (RFC 4291,
 * RFC 6052, RFC 8215) and the one canonical text form (libs/dane ip.ts, RFC
 * 5952). Expected ranges are taken from the registries, one address inside
 * and one just outside each block boundary; expected texts from RFC 5952's
 * rules and, for random addresses, from the WHATWG URL serialiser.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalIp, formatIp, parseIp } from "@danesweep/dane";
import { classifyAddress, embeddedIpv4 } from "../src/index.ts";

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
  ["64:ff9b::127.0.0.1", "loopback"],
  ["::127.0.0.1", "loopback"],
  ["64:ff9b:1::5db8:d70e", "nat64-local"],
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

test("one canonical text for every spelling of an address, v4-mapped in mixed notation (RFC 5952 5)", () => {
  const same: [string[], string][] = [
    [
      ["::ffff:7f00:1", "::FFFF:127.0.0.1", "0:0:0:0:0:ffff:7f00:0001", "::ffff:127.0.0.1"],
      "::ffff:127.0.0.1",
    ],
    [["64:ff9b::93.184.215.14", "64:FF9B:0:0:0:0:5DB8:D70E"], "64:ff9b::5db8:d70e"],
    [["::1.2.3.4", "::102:304"], "::102:304"],
    [["2001:db8::1:0:0:1", "2001:0db8:0:0:1:0:0:1"], "2001:db8::1:0:0:1"],
    [["1:0:0:2:0:0:0:3"], "1:0:0:2::3"], // the longer run, not the first
    [["1::"], "1::"],
    [["1:2:3:4:5:6:7::"], "1:2:3:4:5:6:7:0"], // "::" for a single zero group is accepted, never written
    [["192.0.2.1"], "192.0.2.1"],
  ];
  for (const [spellings, canonical] of same) {
    for (const t of spellings) assert.equal(canonicalIp(t), canonical, t);
  }
  for (const bad of [
    "1.2.3.4:",
    ":1.2.3.4",
    "1.2.3.04",
    "::ffff:1.2.3",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":::1",
    "g::1",
    "1.2.3.4::",
  ]) {
    assert.equal(canonicalIp(bad), undefined, bad);
  }
  assert.throws(() => formatIp(new Uint8Array(5)), RangeError);
});

test("formatIp agrees with the WHATWG URL serialiser (outside ::ffff:0:0/96) and round-trips", () => {
  let seed = 5952;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  for (let i = 0; i < 5000; i++) {
    const b = new Uint8Array(16);
    for (let j = 0; j < 16; j += 2) {
      const v = rnd() < 0.5 ? 0 : Math.floor(rnd() * 0x10000);
      b[j] = v >> 8;
      b[j + 1] = v & 0xff;
    }
    if (i % 7 === 0) b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]); // v4-mapped now and then
    const text = formatIp(b);
    assert.deepEqual(parseIp(text), b, text);
    if (i % 7 === 0) {
      assert.equal(text, `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
    } else {
      assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }
  }
});

test("embeddedIpv4: the IPv4 address an IPv6 address carries (mapped, NAT64, compatible)", () => {
  const inner = (t: string) => embeddedIpv4(parseIp(t)!).map((b) => formatIp(b));
  assert.deepEqual(inner("::ffff:93.184.215.14"), ["93.184.215.14"]);
  assert.deepEqual(inner("64:ff9b::5db8:d70e"), ["93.184.215.14"]);
  assert.deepEqual(inner("::5db8:d70e"), ["93.184.215.14"]);
  assert.deepEqual(inner("::"), []);
  assert.deepEqual(inner("::1"), []);
  assert.deepEqual(inner("93.184.215.14"), []);
  assert.deepEqual(inner("2001:db8::5db8:d70e"), []);
  assert.deepEqual(inner("64:ff9b:2::5db8:d70e"), []); // outside 64:ff9b:1::/48
  // RFC 8215 local use: each RFC 6052 position that is well formed; the /96 one first
  assert.deepEqual(inner("64:ff9b:1::5db8:d70e"), ["93.184.215.14"]);
  // bits 64-71 zero and the suffix after the IPv4 bits zero: the /64, /56 and /48 positions too
  assert.deepEqual(inner("64:ff9b:1:abcd:5d:b8d7:e00:0"), ["14.0.0.0", "93.184.215.14"]); // a /64 prefix
  assert.deepEqual(inner("64:ff9b:1:ab5d:b8:d70e::"), ["0.0.0.0", "184.215.14.0", "93.184.215.14"]); // /56
  assert.deepEqual(inner("64:ff9b:1:5db8:d7:e00::"), [
    "0.0.0.0",
    "215.14.0.0",
    "184.215.14.0",
    "93.184.215.14",
  ]); // /48
  assert.deepEqual(inner("64:ff9b:1:5db8:1d7:e00::"), ["0.0.0.0"]); // bits 64-71 not zero: /96 only
});
