/** The opt-out list: parsing with typed per-line errors, and matching. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { matchOptOut, parseOptOutList } from "../src/index.ts";

const text = `
# a comment
192.0.2.25            # one address
198.51.100.0/24
2001:db8:1::/48
2001:db8::25
Example.NET.
host:mx1.example.org
domain:example.com
bücher.example
bad:thing
host:not a name
999.1.1.1
10.0.0.0/33
10.0.0.0/8/9
-bad-.example
`;

test("good lines form the list, bad lines are reported with line number and code", () => {
  const { list, errors } = parseOptOutList(text);
  assert.deepEqual(errors, [
    { line: 11, error: "invalid-address", text: "bad:thing" },
    { line: 12, error: "invalid-name", text: "host:not a name" },
    { line: 13, error: "invalid-address", text: "999.1.1.1" },
    { line: 14, error: "invalid-cidr", text: "10.0.0.0/33" },
    { line: 15, error: "invalid-cidr", text: "10.0.0.0/8/9" },
    { line: 16, error: "invalid-name", text: "-bad-.example" },
  ]);
  assert.equal(list.addresses.size, 2);
  assert.equal(list.nets.length, 2);
  assert.deepEqual([...list.names.keys()], ["example.net", "xn--bcher-kva.example"]);
  assert.deepEqual(parseOptOutList("mail:x.example").errors[0]!.error, "unknown-prefix");
  assert.deepEqual(parseOptOutList(undefined as unknown as string).errors, []);
});

test("matching addresses, networks, names, hosts and domains", () => {
  const { list } = parseOptOutList(text);
  const m = (t: Parameters<typeof matchOptOut>[1]) => matchOptOut(list, t);
  assert.deepEqual(m({ ip: "192.0.2.25" }), { kind: "address", entry: "192.0.2.25" });
  assert.deepEqual(m({ ip: "::ffff:192.0.2.25" }), { kind: "address", entry: "192.0.2.25" });
  assert.deepEqual(m({ ip: "198.51.100.200" }), { kind: "cidr", entry: "198.51.100.0/24" });
  assert.deepEqual(m({ ip: "2001:db8:1:ffff::1" }), { kind: "cidr", entry: "2001:db8:1::/48" });
  assert.deepEqual(m({ ip: "2001:0db8:0::25" }), { kind: "address", entry: "2001:db8::25" });
  assert.equal(m({ ip: "198.51.101.1" }), undefined);
  assert.equal(m({ ip: "2001:db8:2::1" }), undefined);
  // bare name: the name and everything under it, as MX host, SNI or domain
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.example.net" })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", sni: "EXAMPLE.NET." })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", domain: "a.b.example.net" })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", mxHost: "notexample.net" }), undefined);
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.bücher.example" })?.entry, "bücher.example");
  // host: exact only
  assert.deepEqual(m({ ip: "8.8.8.8", mxHost: "MX1.example.org" }), {
    kind: "host",
    entry: "host:mx1.example.org",
  });
  assert.equal(m({ ip: "8.8.8.8", mxHost: "a.mx1.example.org" }), undefined);
  // domain: the mail domain and subdomains, not an MX host of that name
  assert.equal(m({ ip: "8.8.8.8", domain: "sub.example.com" })?.kind, "domain");
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.example.com", domain: "other.org" }), undefined);
});
