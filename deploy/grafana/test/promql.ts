/**
 * What a PromQL expression of a dashboard uses, read with Prometheus's own
 * grammar (@prometheus-io/lezer-promql): the metric names it selects, the
 * labels it groups by (by / without / on / ignoring), and the syntax errors
 * (empty when it parses). Grafana's variables are expanded first (macros.ts).
 */
import { parser } from "@prometheus-io/lezer-promql";
import { expandMacros } from "../src/macros.ts";

export interface PromqlUse {
  metrics: string[];
  grouping: string[];
  errors: string[];
}

export function promqlUses(expr: string): PromqlUse {
  const text = expandMacros(
    expr,
    { from: new Date(0), to: new Date(3_600_000), intervalMs: 15_000, variables: {} },
    "prometheus",
  );
  const out: PromqlUse = { metrics: [], grouping: [], errors: [] };
  parser.parse(text).iterate({
    enter: (n) => {
      const s = text.slice(n.from, n.to);
      if (n.type.isError)
        out.errors.push(`at ${n.from}: ${JSON.stringify(text.slice(Math.max(0, n.from - 10), n.from + 10))}`);
      else if (n.name === "Identifier" && n.node.parent?.name === "VectorSelector") out.metrics.push(s);
      else if (n.name === "LabelName" && n.node.parent?.name === "GroupingLabels") out.grouping.push(s);
    },
  });
  return out;
}
