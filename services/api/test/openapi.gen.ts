/**
 * Generated from the API's /openapi.json by openapi-typescript (node services/api/test/openapi-gen.ts).
 * Do not edit: regenerate.
 */
export interface paths {
    "/v1/broken": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Domains whose DANE is broken, with the failing hosts and the first scan seen broken */
        get: operations["getBroken"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/changes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Change events between scans (newly-broken, fixed, dane-adopted, dane-dropped, mx-moved); JSON pages, or the whole set as NDJSON or CSV (Accept) */
        get: operations["getChanges"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /** Change events between scans (newly-broken, fixed, dane-adopted, dane-dropped, mx-moved); JSON pages, or the whole set as NDJSON or CSV (Accept) */
        head: operations["headChanges"];
        patch?: never;
        trace?: never;
    };
    "/v1/domains/{domain}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The latest verdict of a domain, with its facts; ?history=true adds every earlier verdict */
        get: operations["getDomainsByDomain"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: 200 while the process runs */
        get: operations["getHealthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Metrics in the Prometheus text format (requests, latency, rate limiting, exports) */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: 200 when the database answers, 503 otherwise */
        get: operations["getReadyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Scans, most recently started first */
        get: operations["getScans"];
        put?: never;
        /** Start a scan of a list of domains (JSON, or text with one domain per line) */
        post: operations["postScans"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A scan: state, parameters, progress per stage, timings and verdict counts */
        get: operations["getScansById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans/{id}/rejudge": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Judge a scan's stored facts again with this engine (in the background); the change counts follow */
        post: operations["postScansByIdRejudge"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans/{id}/rejudgements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The re-judging runs of a scan, oldest first, with their change counts */
        get: operations["getScansByIdRejudgements"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans/{id}/rejudgements/{run}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One re-judging run of a scan: its state, progress and change counts */
        get: operations["getScansByIdRejudgementsByRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/scans/{id}/results": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A scan's verdicts, filtered; JSON pages, or the whole set as NDJSON or CSV (Accept) */
        get: operations["getScansByIdResults"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /** A scan's verdicts, filtered; JSON pages, or the whole set as NDJSON or CSV (Accept) */
        head: operations["headScansByIdResults"];
        patch?: never;
        trace?: never;
    };
    "/v1/stats/adoption": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Time series across scans of counts per DANE state and per verdict, optionally per TLD or provider */
        get: operations["getStatsAdoption"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/stats/providers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** MX providers (registrable domain of the primary MX host) ranked by the domains they serve */
        get: operations["getStatsProviders"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/stats/risk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Per scan, the share of DANE domains (valid or partial) at risk: authoritative servers that disagree, certificates other senders see, rollover risk (issue 14) */
        get: operations["getStatsRisk"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * Problem
         * @description RFC 9457 problem details (application/problem+json)
         */
        "def-0": {
            detail: string;
            parameter?: string;
            status: number;
            title: string;
            type: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getBroken: {
        parameters: {
            query?: {
                cursor?: string;
                limit?: number;
                scan?: string;
                tld?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            domain: string;
                            explanation: string;
                            failingHosts: {
                                addresses: {
                                    address: string;
                                    reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                    result: ("dane-verified" | "encrypted" | "plaintext") | "failed" | "not-tried" | "beyond-limit" | "not-probed" | "policy-refused";
                                }[];
                                host: string;
                                preference: number;
                                reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                requirement: ("dane" | "tls" | "opportunistic") | "unusable";
                                tlsaBaseWhy: "host-name-secure" | "expanded-name" | "original-name-fallback" | "original-name-chain-insecure" | "address-insecure" | "first-link-insecure" | "no-secure-tlsa" | "tlsa-lookup-error" | "cname-lookup-error" | "no-address" | "address-lookup-error" | "incomplete-facts" | "numeric-exchange";
                            }[];
                            firstBroken: {
                                scanId: string;
                                scanStartedAt: string;
                            };
                            mxHost: string | null;
                            problems: ("tlsa-mismatch" | "starttls-missing" | "tls-handshake-failed" | "tlsa-lookup-failed" | "dnssec-bogus")[];
                            provider: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            tld: string;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                };
            };
        };
    };
    getChanges: {
        parameters: {
            query?: {
                cursor?: string;
                domain?: string;
                /** @description comma-separated: newly-broken, fixed, dane-adopted, dane-dropped, mx-moved */
                kind?: string;
                limit?: number;
                scan?: string;
                /** @description detected at or after (RFC 3339) */
                since?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                    "application/x-ndjson": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                    "text/csv": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                };
            };
        };
    };
    headChanges: {
        parameters: {
            query?: {
                cursor?: string;
                domain?: string;
                /** @description comma-separated: newly-broken, fixed, dane-adopted, dane-dropped, mx-moved */
                kind?: string;
                limit?: number;
                scan?: string;
                /** @description detected at or after (RFC 3339) */
                since?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                    "application/x-ndjson": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                    "text/csv": {
                        items: {
                            dane: {
                                after: string;
                                before: string;
                            };
                            detectedAt: string;
                            domain: string;
                            id: number;
                            kind: "newly-broken" | "fixed" | "dane-adopted" | "dane-dropped" | "mx-moved";
                            mx: {
                                after: string | null;
                                before: string | null;
                            };
                            /** @description last seen in the old state */
                            previousAt: string;
                            previousScanId: string;
                            problems: {
                                after: string[];
                                before: string[];
                            };
                            scanId: string;
                            /** @description first seen in the new state (when the scan judged the domain) */
                            since: string;
                        }[];
                        next: string | null;
                        /** @description cursor to ask with later, for the events recorded after these */
                        poll: string;
                    };
                };
            };
        };
    };
    getDomainsByDomain: {
        parameters: {
            query?: {
                history?: boolean;
            };
            header?: never;
            path: {
                domain: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description the scans whose verdict differs from the scan before */
                        changes?: {
                            from: {
                                action: "deliver" | "defer" | "bounce" | "indeterminate";
                                dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                                reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            };
                            scanId: string;
                            scanStartedAt: string;
                            to: {
                                action: "deliver" | "defer" | "bounce" | "indeterminate";
                                dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                                reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            };
                        }[];
                        domain: string;
                        facts: {
                            collectedAt: string;
                            consistency?: {
                                checkedAt: string;
                                limits?: string[];
                                ns: {
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    names: string[];
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                };
                                qname: string;
                                servers: {
                                    address?: string;
                                    detail?: string;
                                    records?: {
                                        data: string;
                                        matchingType: number;
                                        selector: number;
                                        usage: number;
                                    }[];
                                    rrsigs?: {
                                        algorithm: number;
                                        expiration: string;
                                        inception: string;
                                        keyTag: number;
                                        originalTtl: number;
                                        signer: string;
                                    }[];
                                    server: string;
                                    status: "answer" | "nodata" | "nxdomain" | "not-authoritative" | "timeout" | "network" | "refused" | "servfail" | "formerr" | "notimp" | "malformed" | "other" | "no-address" | "address-lookup-failed" | "policy-private-address" | "policy-opt-out" | "beyond-limit";
                                    ttl?: number;
                                }[];
                                zone?: string;
                            }[];
                            domain: string;
                            hosts: {
                                a: {
                                    chain: {
                                        owner: string;
                                        target: string;
                                    }[];
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    limitHit?: string;
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    owner: string;
                                    provenance?: {
                                        attempts: number;
                                        cached?: boolean;
                                        cdRcode?: string;
                                        elapsedMs?: number;
                                        flags: {
                                            aa: boolean;
                                            ad: boolean;
                                            cd: boolean;
                                            ra: boolean;
                                            rd: boolean;
                                            tc: boolean;
                                        };
                                        rcode: string;
                                        transport: "udp" | "tcp";
                                        upstream: string;
                                    };
                                    qname: string;
                                    qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                    records: string[];
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                    ttl?: number;
                                    zone?: string;
                                };
                                aaaa: {
                                    chain: {
                                        owner: string;
                                        target: string;
                                    }[];
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    limitHit?: string;
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    owner: string;
                                    provenance?: {
                                        attempts: number;
                                        cached?: boolean;
                                        cdRcode?: string;
                                        elapsedMs?: number;
                                        flags: {
                                            aa: boolean;
                                            ad: boolean;
                                            cd: boolean;
                                            ra: boolean;
                                            rd: boolean;
                                            tc: boolean;
                                        };
                                        rcode: string;
                                        transport: "udp" | "tcp";
                                        upstream: string;
                                    };
                                    qname: string;
                                    qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                    records: string[];
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                    ttl?: number;
                                    zone?: string;
                                };
                                firstLink?: {
                                    chain: {
                                        owner: string;
                                        target: string;
                                    }[];
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    limitHit?: string;
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    owner: string;
                                    provenance?: {
                                        attempts: number;
                                        cached?: boolean;
                                        cdRcode?: string;
                                        elapsedMs?: number;
                                        flags: {
                                            aa: boolean;
                                            ad: boolean;
                                            cd: boolean;
                                            ra: boolean;
                                            rd: boolean;
                                            tc: boolean;
                                        };
                                        rcode: string;
                                        transport: "udp" | "tcp";
                                        upstream: string;
                                    };
                                    qname: string;
                                    qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                    records: string[];
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                    ttl?: number;
                                    zone?: string;
                                };
                                implicit: boolean;
                                name: string;
                                preference: number;
                                tlsa: {
                                    chain: {
                                        owner: string;
                                        target: string;
                                    }[];
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    limitHit?: string;
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    owner: string;
                                    provenance?: {
                                        attempts: number;
                                        cached?: boolean;
                                        cdRcode?: string;
                                        elapsedMs?: number;
                                        flags: {
                                            aa: boolean;
                                            ad: boolean;
                                            cd: boolean;
                                            ra: boolean;
                                            rd: boolean;
                                            tc: boolean;
                                        };
                                        rcode: string;
                                        transport: "udp" | "tcp";
                                        upstream: string;
                                    };
                                    qname: string;
                                    qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                    records: {
                                        data: string;
                                        matchingType: number;
                                        selector: number;
                                        usage: number;
                                    }[];
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                    ttl?: number;
                                    zone?: string;
                                }[];
                            }[];
                            limits: string[];
                            mtaSts?: {
                                host?: {
                                    a: {
                                        chain: {
                                            owner: string;
                                            target: string;
                                        }[];
                                        error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                        limitHit?: string;
                                        outcome: "answer" | "nodata" | "nxdomain" | "error";
                                        owner: string;
                                        provenance?: {
                                            attempts: number;
                                            cached?: boolean;
                                            cdRcode?: string;
                                            elapsedMs?: number;
                                            flags: {
                                                aa: boolean;
                                                ad: boolean;
                                                cd: boolean;
                                                ra: boolean;
                                                rd: boolean;
                                                tc: boolean;
                                            };
                                            rcode: string;
                                            transport: "udp" | "tcp";
                                            upstream: string;
                                        };
                                        qname: string;
                                        qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                        records: string[];
                                        security: "secure" | "insecure" | "bogus" | "indeterminate";
                                        ttl?: number;
                                        zone?: string;
                                    };
                                    aaaa: {
                                        chain: {
                                            owner: string;
                                            target: string;
                                        }[];
                                        error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                        limitHit?: string;
                                        outcome: "answer" | "nodata" | "nxdomain" | "error";
                                        owner: string;
                                        provenance?: {
                                            attempts: number;
                                            cached?: boolean;
                                            cdRcode?: string;
                                            elapsedMs?: number;
                                            flags: {
                                                aa: boolean;
                                                ad: boolean;
                                                cd: boolean;
                                                ra: boolean;
                                                rd: boolean;
                                                tc: boolean;
                                            };
                                            rcode: string;
                                            transport: "udp" | "tcp";
                                            upstream: string;
                                        };
                                        qname: string;
                                        qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                        records: string[];
                                        security: "secure" | "insecure" | "bogus" | "indeterminate";
                                        ttl?: number;
                                        zone?: string;
                                    };
                                    name: string;
                                };
                                txt: {
                                    chain: {
                                        owner: string;
                                        target: string;
                                    }[];
                                    error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                    limitHit?: string;
                                    outcome: "answer" | "nodata" | "nxdomain" | "error";
                                    owner: string;
                                    provenance?: {
                                        attempts: number;
                                        cached?: boolean;
                                        cdRcode?: string;
                                        elapsedMs?: number;
                                        flags: {
                                            aa: boolean;
                                            ad: boolean;
                                            cd: boolean;
                                            ra: boolean;
                                            rd: boolean;
                                            tc: boolean;
                                        };
                                        rcode: string;
                                        transport: "udp" | "tcp";
                                        upstream: string;
                                    };
                                    qname: string;
                                    qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                    records: string[];
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                    ttl?: number;
                                    zone?: string;
                                };
                            };
                            mx: {
                                chain: {
                                    owner: string;
                                    target: string;
                                }[];
                                error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                limitHit?: string;
                                outcome: "answer" | "nodata" | "nxdomain" | "error";
                                owner: string;
                                provenance?: {
                                    attempts: number;
                                    cached?: boolean;
                                    cdRcode?: string;
                                    elapsedMs?: number;
                                    flags: {
                                        aa: boolean;
                                        ad: boolean;
                                        cd: boolean;
                                        ra: boolean;
                                        rd: boolean;
                                        tc: boolean;
                                    };
                                    rcode: string;
                                    transport: "udp" | "tcp";
                                    upstream: string;
                                };
                                qname: string;
                                qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                records: {
                                    exchange: string;
                                    preference: number;
                                }[];
                                security: "secure" | "insecure" | "bogus" | "indeterminate";
                                ttl?: number;
                                zone?: string;
                            };
                            mxFirstLink?: {
                                chain: {
                                    owner: string;
                                    target: string;
                                }[];
                                error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                limitHit?: string;
                                outcome: "answer" | "nodata" | "nxdomain" | "error";
                                owner: string;
                                provenance?: {
                                    attempts: number;
                                    cached?: boolean;
                                    cdRcode?: string;
                                    elapsedMs?: number;
                                    flags: {
                                        aa: boolean;
                                        ad: boolean;
                                        cd: boolean;
                                        ra: boolean;
                                        rd: boolean;
                                        tc: boolean;
                                    };
                                    rcode: string;
                                    transport: "udp" | "tcp";
                                    upstream: string;
                                };
                                qname: string;
                                qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                records: string[];
                                security: "secure" | "insecure" | "bogus" | "indeterminate";
                                ttl?: number;
                                zone?: string;
                            };
                            port: number;
                            resolverValidates: boolean;
                            /** @enum {number} */
                            schema: 1;
                            tlsRpt?: {
                                chain: {
                                    owner: string;
                                    target: string;
                                }[];
                                error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                limitHit?: string;
                                outcome: "answer" | "nodata" | "nxdomain" | "error";
                                owner: string;
                                provenance?: {
                                    attempts: number;
                                    cached?: boolean;
                                    cdRcode?: string;
                                    elapsedMs?: number;
                                    flags: {
                                        aa: boolean;
                                        ad: boolean;
                                        cd: boolean;
                                        ra: boolean;
                                        rd: boolean;
                                        tc: boolean;
                                    };
                                    rcode: string;
                                    transport: "udp" | "tcp";
                                    upstream: string;
                                };
                                qname: string;
                                qtype: "MX" | "A" | "AAAA" | "TLSA" | "CNAME" | "SOA" | "DNSKEY" | "NS" | "TXT";
                                records: string[];
                                security: "secure" | "insecure" | "bogus" | "indeterminate";
                                ttl?: number;
                                zone?: string;
                            };
                        } | null;
                        /** @description every scan's verdict, oldest first */
                        history?: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            engine: {
                                profile: string;
                                version: string;
                            };
                            judgedAt: string;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            /** @description the scan's stored facts judged again (oldest run first); the original verdict is this entry */
                            rejudgements: {
                                action: "deliver" | "defer" | "bounce" | "indeterminate";
                                dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                                engine: {
                                    profile: string;
                                    version: string;
                                };
                                reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                /** @description when its run started */
                                rejudgedAt: string;
                                run: number;
                                runState: "running" | "finished" | "interrupted" | "failed";
                                security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            }[];
                            scanId: string;
                            scanStartedAt: string;
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                        }[];
                        probes: {
                            alternates?: {
                                detail?: string;
                                offered: "ecdsa" | "rsa";
                                status: "tls-ok" | "starttls-not-offered" | "starttls-refused" | "tls-handshake-failed" | "tls-timeout" | "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable" | "banner-rejected" | "ehlo-failed" | "io-timeout" | "io-reset" | "protocol-error" | "deadline-exceeded" | "policy-private-address" | "policy-opt-out" | "internal-error" | "http-response";
                                timings: {
                                    tlsMs?: number;
                                    totalMs: number;
                                };
                                tls?: {
                                    chain: string[];
                                    chainTruncated?: boolean;
                                    cipher: string;
                                    group?: string;
                                    version: string;
                                };
                            }[];
                            banner?: {
                                code: number;
                                lines: string[];
                            };
                            detail?: string;
                            ehlo?: {
                                code: number;
                                keywords: string[];
                                lines: string[];
                                verb: "EHLO" | "HELO";
                            };
                            http?: {
                                body?: string;
                                bodyBytes: number;
                                contentType?: string;
                                location?: string;
                                status: number;
                                truncated?: boolean;
                            };
                            io?: {
                                bytesRead: number;
                                bytesWritten: number;
                            };
                            ip: string;
                            kind?: "smtp" | "mta-sts-policy";
                            port: number;
                            quit?: boolean;
                            /** @enum {number} */
                            schema: 1;
                            sni: string;
                            startedAt: string;
                            starttls?: {
                                accepted: boolean;
                                offered: boolean;
                                reply?: {
                                    code: number;
                                    lines: string[];
                                };
                            };
                            status: "tls-ok" | "starttls-not-offered" | "starttls-refused" | "tls-handshake-failed" | "tls-timeout" | "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable" | "banner-rejected" | "ehlo-failed" | "io-timeout" | "io-reset" | "protocol-error" | "deadline-exceeded" | "policy-private-address" | "policy-opt-out" | "internal-error" | "http-response";
                            timings: {
                                bannerMs?: number;
                                connectMs?: number;
                                ehloMs?: number;
                                starttlsMs?: number;
                                tlsMs?: number;
                                totalMs: number;
                            };
                            tls?: {
                                chain: string[];
                                chainTruncated?: boolean;
                                cipher: string;
                                group?: string;
                                version: string;
                            };
                        }[];
                        scanId: string;
                        scanStartedAt: string;
                        verdict: {
                            consistency?: {
                                reasons: ("rrset-differs" | "rrsig-expired" | "rrsig-expiring" | "rrsig-missing" | "server-unresponsive" | "server-lame")[];
                                servers: {
                                    address?: string;
                                    expiresAt?: string;
                                    qname: string;
                                    reasons: ("rrset-differs" | "rrsig-expired" | "rrsig-expiring" | "rrsig-missing" | "server-unresponsive" | "server-lame")[];
                                    server: string;
                                    status: "answer" | "nodata" | "nxdomain" | "not-authoritative" | "timeout" | "network" | "refused" | "servfail" | "formerr" | "notimp" | "malformed" | "other" | "no-address" | "address-lookup-failed" | "policy-private-address" | "policy-opt-out" | "beyond-limit";
                                    zone?: string;
                                }[];
                                state: "consistent" | "inconsistent" | "incomplete" | "unknown";
                            };
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            domain: string;
                            engine: {
                                profile: string;
                                version: string;
                            };
                            explanation: string;
                            failingHosts?: {
                                addresses: {
                                    address: string;
                                    reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                    result: ("dane-verified" | "encrypted" | "plaintext") | "failed" | "not-tried" | "beyond-limit" | "not-probed" | "policy-refused";
                                }[];
                                host: string;
                                preference: number;
                                reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                requirement: ("dane" | "tls" | "opportunistic") | "unusable";
                                tlsaBaseWhy: "host-name-secure" | "expanded-name" | "original-name-fallback" | "original-name-chain-insecure" | "address-insecure" | "first-link-insecure" | "no-secure-tlsa" | "tlsa-lookup-error" | "cname-lookup-error" | "no-address" | "address-lookup-error" | "incomplete-facts" | "numeric-exchange";
                            }[];
                            hosts: {
                                addresses: {
                                    address: string;
                                    alternates?: {
                                        failure?: string;
                                        keyType?: string;
                                        offered: "ecdsa" | "rsa";
                                        result: "dane-verified" | "failed" | "no-certificate";
                                        status: "tls-ok" | "starttls-not-offered" | "starttls-refused" | "tls-handshake-failed" | "tls-timeout" | "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable" | "banner-rejected" | "ehlo-failed" | "io-timeout" | "io-reset" | "protocol-error" | "deadline-exceeded" | "policy-private-address" | "policy-opt-out" | "internal-error" | "http-response";
                                    }[];
                                    assessed?: {
                                        reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                        result: ("dane-verified" | "encrypted" | "plaintext") | "failed" | "not-probed" | "policy-refused";
                                    };
                                    auth?: {
                                        detail?: string;
                                        failure?: string;
                                        matched?: {
                                            depth: number;
                                            record: {
                                                data: string;
                                                matchingType: number;
                                                selector: number;
                                                usage: number;
                                            };
                                        };
                                    };
                                    family: 4 | 6;
                                    probe?: {
                                        ip: string;
                                        port: number;
                                        sni: string;
                                        status: "tls-ok" | "starttls-not-offered" | "starttls-refused" | "tls-handshake-failed" | "tls-timeout" | "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable" | "banner-rejected" | "ehlo-failed" | "io-timeout" | "io-reset" | "protocol-error" | "deadline-exceeded" | "policy-private-address" | "policy-opt-out" | "internal-error" | "http-response";
                                    };
                                    reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                    result: ("dane-verified" | "encrypted" | "plaintext") | "failed" | "not-tried" | "beyond-limit" | "not-probed" | "policy-refused";
                                    security: "secure" | "insecure" | "bogus" | "indeterminate";
                                }[];
                                addressSecurity: "secure" | "insecure" | "bogus" | "indeterminate";
                                host: string;
                                implicit: boolean;
                                numeric?: boolean;
                                preference: number;
                                reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                requirement: ("dane" | "tls" | "opportunistic") | "unusable";
                                rolloverRisk?: {
                                    leafNotAfter?: string;
                                    reasons: ("no-next-key" | "ee-full-certificate" | "leaf-expiring" | "ta-intermediate" | "ttl-exceeds-validity")[];
                                    tlsaTtl?: number;
                                };
                                tlsa?: {
                                    record: {
                                        data: string;
                                        matchingType: number;
                                        selector: number;
                                        usage: number;
                                    };
                                    usable: boolean;
                                    why?: string;
                                }[];
                                tlsaBase?: string;
                                tlsaBaseWhy: "host-name-secure" | "expanded-name" | "original-name-fallback" | "original-name-chain-insecure" | "address-insecure" | "first-link-insecure" | "no-secure-tlsa" | "tlsa-lookup-error" | "cname-lookup-error" | "no-address" | "address-lookup-error" | "incomplete-facts" | "numeric-exchange";
                                wouldAuthenticate?: boolean;
                            }[];
                            judgedAt: string;
                            latent?: {
                                address: string;
                                failure: string;
                                host: string;
                                keyType?: string;
                                offered: ("ecdsa" | "rsa") | "default";
                            }[];
                            mtaSts?: {
                                contradictions: ("policy-unavailable" | "mx-not-covered" | "enforce-no-tls" | "enforce-certificate-invalid" | "dane-delivers-mta-sts-defers" | "mta-sts-delivers-dane-defers" | "testing-without-tls-rpt")[];
                                detail?: string;
                                fetch?: {
                                    httpStatus?: number;
                                    ip: string;
                                    port: number;
                                    sni: string;
                                    status: "tls-ok" | "starttls-not-offered" | "starttls-refused" | "tls-handshake-failed" | "tls-timeout" | "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable" | "banner-rejected" | "ehlo-failed" | "io-timeout" | "io-reset" | "protocol-error" | "deadline-exceeded" | "policy-private-address" | "policy-opt-out" | "internal-error" | "http-response";
                                };
                                hosts?: {
                                    address?: string;
                                    detail?: string;
                                    host: string;
                                    pattern?: string;
                                    webpki: "valid" | "no-certificate" | "bad-certificate" | "untrusted" | "chain-invalid" | "expired" | "not-yet-valid" | "name-mismatch" | "no-tls" | "unreachable" | "not-probed";
                                }[];
                                id?: string;
                                maxAge?: number;
                                mode?: "enforce" | "testing" | "none";
                                mx?: string[];
                                outcome?: {
                                    action: "deliver" | "defer" | "bounce" | "indeterminate";
                                    address?: string;
                                    host?: string;
                                    reason: "webpki-verified" | "no-mx-covered" | "starttls-not-offered" | "tls-handshake-failed" | "certificate-invalid" | "connection-failed" | "mx-lookup-failed" | "no-mail" | "not-probed" | "policy-refused" | "resolver-not-validating";
                                };
                                policy: "valid" | "no-record" | "record-lookup-failed" | "record-invalid" | "host-lookup-failed" | "host-no-address" | "fetch-refused" | "not-fetched" | "fetch-failed" | "host-certificate-invalid" | "http-status" | "content-type" | "too-large" | "policy-invalid" | "not-validated";
                                trust?: string;
                            };
                            mx: {
                                error?: "timeout" | "servfail" | "refused" | "formerr" | "notimp" | "network" | "malformed" | "limit" | "other";
                                outcome: "answer" | "nodata" | "nxdomain" | "error";
                                security: "secure" | "insecure" | "bogus" | "indeterminate";
                            };
                            mxSecure: boolean;
                            probeMode: "all" | "dane";
                            problems: ("tlsa-mismatch" | "starttls-missing" | "tls-handshake-failed" | "tlsa-lookup-failed" | "dnssec-bogus")[];
                            provider?: string;
                            risks?: ("tlsa-inconsistent" | "rrsig-expired" | "rrsig-expiring" | "rrsig-missing" | "nameserver-unresponsive" | "nameserver-lame" | "latent-mismatch" | "rollover-no-next-key" | "rollover-ee-full-certificate" | "rollover-leaf-expiring" | "rollover-ta-intermediate" | "rollover-ttl-exceeds-validity")[];
                            /** @enum {number} */
                            schema: 2;
                            tld: string;
                            tlsRpt?: {
                                detail?: string;
                                rua?: string[];
                                state: "valid" | "none" | "invalid" | "lookup-failed";
                            };
                            verdict: {
                                action: "deliver" | "defer" | "bounce" | "indeterminate";
                                address?: string;
                                beyondAddressLimit?: {
                                    address: string;
                                    host: string;
                                    limit: number;
                                    security: "dane-verified" | "encrypted" | "plaintext";
                                };
                                host?: string;
                                reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                                security?: "dane-verified" | "encrypted" | "plaintext";
                            };
                        };
                    };
                };
            };
        };
    };
    getHealthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        status: string;
                    };
                };
            };
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description the metrics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
        };
    };
    getReadyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        status: string;
                    };
                };
            };
        };
    };
    getScans: {
        parameters: {
            query?: {
                cursor?: string;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            finishedAt: string | null;
                            id: string;
                            /** @description what the scan was started with; only for a token with scope "scan" */
                            parameters?: unknown;
                            startedAt: string;
                            state: "running" | "finished" | "interrupted" | "failed";
                        }[];
                        next: string | null;
                    };
                };
            };
        };
    };
    postScans: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    domains: string[];
                    parameters?: {
                        label?: string;
                        probeMode?: "all" | "dane";
                    };
                };
                "text/plain": string;
            };
        };
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        domains: number;
                        scanId: string;
                    };
                };
            };
        };
    };
    getScansById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        counts: {
                            action: {
                                [key: string]: number;
                            };
                            dane: {
                                [key: string]: number;
                            };
                            reason: {
                                [key: string]: number;
                            };
                            security: {
                                [key: string]: number;
                            };
                        };
                        id: string;
                        /** @description what the scan was started with; only for a token with scope "scan" */
                        parameters?: unknown;
                        progress: {
                            /** @description domains seeded */
                            domains: number;
                            /** @description domains with a verdict */
                            judged: number;
                            probes: {
                                byStatus: {
                                    [key: string]: number;
                                };
                                /** @description probes stored */
                                done: number;
                            };
                        };
                        state: "running" | "finished" | "interrupted" | "failed";
                        timings: {
                            /** @description to the end, or to now for a running scan */
                            elapsedMs: number;
                            finishedAt: string | null;
                            startedAt: string;
                        };
                    };
                };
            };
        };
    };
    postScansByIdRejudge: {
        parameters: {
            query?: {
                /** @description judge again even if this engine already re-judged the scan under this profile */
                again?: boolean;
                /** @description the client-policy profile to judge under; default the scan's */
                policy?: "postfix" | "rfc7672";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        counts: {
                            /** @description domains per (old -> new) action, unchanged ones included */
                            action: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            after: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            before: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            /** @description verdicts whose action, security, reason, DANE state or brokenness changed */
                            changed: number;
                            /** @description the same per DANE state */
                            dane: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            /** @description domains re-judged */
                            domains: number;
                            /** @description verdicts that say exactly what the original said (the original's stored verdict is reused) */
                            identical: number;
                            /** @description the engines and profiles that judged the original verdicts */
                            originals: {
                                domains: number;
                                engine: string;
                                profile: string;
                            }[];
                            /** @description the same per delivery security (null: none) */
                            security: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                        } | null;
                        /** @description the verdict engine's version */
                        engine: string;
                        error: string | null;
                        finishedAt: string | null;
                        /** @description when the run last stored a batch */
                        heartbeatAt: string;
                        /** @description domains stored by the run so far */
                        judged: number;
                        /** @description domains whose re-judging needed a probe the scan never made */
                        missingProbes: number;
                        /** @description verdicts stored for the first time */
                        newBlobs: number;
                        profile: string;
                        run: number;
                        scanId: string;
                        startedAt: string;
                        state: "running" | "finished" | "interrupted" | "failed";
                        /** @description new: a run started; resumed: an unfinished run goes on; running: this server is running it; done: it had finished */
                        status: "new" | "resumed" | "running" | "done";
                        /** @description domains judged in the scan when the run started */
                        total: number;
                    };
                };
            };
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        counts: {
                            /** @description domains per (old -> new) action, unchanged ones included */
                            action: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            after: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            before: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            /** @description verdicts whose action, security, reason, DANE state or brokenness changed */
                            changed: number;
                            /** @description the same per DANE state */
                            dane: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            /** @description domains re-judged */
                            domains: number;
                            /** @description verdicts that say exactly what the original said (the original's stored verdict is reused) */
                            identical: number;
                            /** @description the engines and profiles that judged the original verdicts */
                            originals: {
                                domains: number;
                                engine: string;
                                profile: string;
                            }[];
                            /** @description the same per delivery security (null: none) */
                            security: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                        } | null;
                        /** @description the verdict engine's version */
                        engine: string;
                        error: string | null;
                        finishedAt: string | null;
                        /** @description when the run last stored a batch */
                        heartbeatAt: string;
                        /** @description domains stored by the run so far */
                        judged: number;
                        /** @description domains whose re-judging needed a probe the scan never made */
                        missingProbes: number;
                        /** @description verdicts stored for the first time */
                        newBlobs: number;
                        profile: string;
                        run: number;
                        scanId: string;
                        startedAt: string;
                        state: "running" | "finished" | "interrupted" | "failed";
                        /** @description new: a run started; resumed: an unfinished run goes on; running: this server is running it; done: it had finished */
                        status: "new" | "resumed" | "running" | "done";
                        /** @description domains judged in the scan when the run started */
                        total: number;
                    };
                };
            };
        };
    };
    getScansByIdRejudgements: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            counts: {
                                /** @description domains per (old -> new) action, unchanged ones included */
                                action: {
                                    domains: number;
                                    from: string | null;
                                    to: string | null;
                                }[];
                                after: {
                                    action: {
                                        [key: string]: number;
                                    };
                                    dane: {
                                        [key: string]: number;
                                    };
                                    security: {
                                        [key: string]: number;
                                    };
                                };
                                before: {
                                    action: {
                                        [key: string]: number;
                                    };
                                    dane: {
                                        [key: string]: number;
                                    };
                                    security: {
                                        [key: string]: number;
                                    };
                                };
                                /** @description verdicts whose action, security, reason, DANE state or brokenness changed */
                                changed: number;
                                /** @description the same per DANE state */
                                dane: {
                                    domains: number;
                                    from: string | null;
                                    to: string | null;
                                }[];
                                /** @description domains re-judged */
                                domains: number;
                                /** @description verdicts that say exactly what the original said (the original's stored verdict is reused) */
                                identical: number;
                                /** @description the engines and profiles that judged the original verdicts */
                                originals: {
                                    domains: number;
                                    engine: string;
                                    profile: string;
                                }[];
                                /** @description the same per delivery security (null: none) */
                                security: {
                                    domains: number;
                                    from: string | null;
                                    to: string | null;
                                }[];
                            } | null;
                            /** @description the verdict engine's version */
                            engine: string;
                            error: string | null;
                            finishedAt: string | null;
                            /** @description when the run last stored a batch */
                            heartbeatAt: string;
                            /** @description domains stored by the run so far */
                            judged: number;
                            /** @description domains whose re-judging needed a probe the scan never made */
                            missingProbes: number;
                            /** @description verdicts stored for the first time */
                            newBlobs: number;
                            profile: string;
                            run: number;
                            scanId: string;
                            startedAt: string;
                            state: "running" | "finished" | "interrupted" | "failed";
                            /** @description domains judged in the scan when the run started */
                            total: number;
                        }[];
                        scanId: string;
                    };
                };
            };
        };
    };
    getScansByIdRejudgementsByRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                run: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        counts: {
                            /** @description domains per (old -> new) action, unchanged ones included */
                            action: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            after: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            before: {
                                action: {
                                    [key: string]: number;
                                };
                                dane: {
                                    [key: string]: number;
                                };
                                security: {
                                    [key: string]: number;
                                };
                            };
                            /** @description verdicts whose action, security, reason, DANE state or brokenness changed */
                            changed: number;
                            /** @description the same per DANE state */
                            dane: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                            /** @description domains re-judged */
                            domains: number;
                            /** @description verdicts that say exactly what the original said (the original's stored verdict is reused) */
                            identical: number;
                            /** @description the engines and profiles that judged the original verdicts */
                            originals: {
                                domains: number;
                                engine: string;
                                profile: string;
                            }[];
                            /** @description the same per delivery security (null: none) */
                            security: {
                                domains: number;
                                from: string | null;
                                to: string | null;
                            }[];
                        } | null;
                        /** @description the verdict engine's version */
                        engine: string;
                        error: string | null;
                        finishedAt: string | null;
                        /** @description when the run last stored a batch */
                        heartbeatAt: string;
                        /** @description domains stored by the run so far */
                        judged: number;
                        /** @description domains whose re-judging needed a probe the scan never made */
                        missingProbes: number;
                        /** @description verdicts stored for the first time */
                        newBlobs: number;
                        profile: string;
                        run: number;
                        scanId: string;
                        startedAt: string;
                        state: "running" | "finished" | "interrupted" | "failed";
                        /** @description domains judged in the scan when the run started */
                        total: number;
                    };
                };
            };
        };
    };
    getScansByIdResults: {
        parameters: {
            query?: {
                action?: "deliver" | "defer" | "bounce" | "indeterminate";
                cursor?: string;
                dane?: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                limit?: number;
                mx?: string;
                provider?: string;
                reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                security?: "dane-verified" | "encrypted" | "plaintext";
                tld?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                    "application/x-ndjson": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                    "text/csv": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                };
            };
        };
    };
    headScansByIdResults: {
        parameters: {
            query?: {
                action?: "deliver" | "defer" | "bounce" | "indeterminate";
                cursor?: string;
                dane?: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                limit?: number;
                mx?: string;
                provider?: string;
                reason?: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                security?: "dane-verified" | "encrypted" | "plaintext";
                tld?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                    "application/x-ndjson": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                    "text/csv": {
                        items: {
                            action: "deliver" | "defer" | "bounce" | "indeterminate";
                            dane: "valid" | "partial" | "invalid" | "unusable-records" | "none" | "insecure" | "dns-error" | "no-mail" | "indeterminate";
                            deliveredHost: string | null;
                            domain: string;
                            explanation: string;
                            judgedAt: string;
                            mtaStsContradictions: string[];
                            mtaStsMode: string | null;
                            mtaStsOutcome: string | null;
                            mtaStsPolicy: string | null;
                            mtaStsReason: string | null;
                            mxHost: string | null;
                            reason: "dane-authenticated" | "tls-required-unauthenticated" | "opportunistic-tls" | "opportunistic-plaintext" | "dane-check-failed" | "starttls-not-offered" | "tls-handshake-failed" | "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable" | "mx-lookup-failed" | "address-lookup-failed" | "connection-failed" | "nxdomain" | "null-mx" | "no-address" | "resolver-not-validating" | "not-probed" | "policy-refused" | "incomplete-facts";
                            risks: string[];
                            security: ("dane-verified" | "encrypted" | "plaintext") | null;
                            tld: string;
                            tlsRpt: string | null;
                        }[];
                        next: string | null;
                        scanId: string;
                    };
                };
            };
        };
    };
    getStatsAdoption: {
        parameters: {
            query?: {
                by?: "tld" | "provider";
                from?: string;
                group?: string;
                to?: string;
                top?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        by: ("tld" | "provider") | null;
                        series: {
                            action: {
                                [key: string]: number;
                            };
                            dane: {
                                [key: string]: number;
                            };
                            domains: number;
                            group: string | null;
                            scanId: string;
                            scanStartedAt: string;
                            scanState: "running" | "finished" | "interrupted" | "failed";
                            security: {
                                [key: string]: number;
                            };
                        }[];
                    };
                };
            };
        };
    };
    getStatsProviders: {
        parameters: {
            query?: {
                limit?: number;
                scan?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        providers: {
                            dane: {
                                [key: string]: number;
                            };
                            domains: number;
                            mxHosts: number;
                            provider: string;
                        }[];
                        scanId: string;
                    };
                };
            };
        };
    };
    getStatsRisk: {
        parameters: {
            query?: {
                from?: string;
                to?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description RFC 9457 problem details */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description RFC 9457 problem details */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["def-0"];
                };
            };
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        series: {
                            atRisk: number;
                            byRisk: {
                                [key: string]: number;
                            };
                            daneDomains: number;
                            rolloverAtRisk: number;
                            rolloverShare: number;
                            scanId: string;
                            scanStartedAt: string;
                            scanState: "running" | "finished" | "interrupted" | "failed";
                            share: number;
                        }[];
                    };
                };
            };
        };
    };
}
