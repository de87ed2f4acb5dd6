// Validates custom resources (JSON array of objects, from `deploy_check.py split`) against the
// CRD schemas shipped by @kubernetes-models/keda and @kubernetes-models/prometheus-operator
// (compiled JSON-schema validators; they check types, required fields, enums and patterns,
// but these CRDs allow unknown fields, so a misspelt optional field is not caught).
//   node validate-crds.mjs crds.json [--expect-failure]
import { readFileSync } from "node:fs";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ServiceMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = { ScaledObject, TriggerAuthentication, ServiceMonitor, PrometheusRule };
const [file, flag] = process.argv.slice(2);
const objects = JSON.parse(readFileSync(file, "utf8"));
let failed = 0;
for (const o of objects) {
  const Model = models[o.kind];
  const id = `${o.kind}/${o.metadata?.name}`;
  if (!Model) {
    console.log(`  FAIL: ${id}: no schema for this kind`);
    failed++;
    continue;
  }
  if (o.apiVersion !== Model.apiVersion) {
    console.log(`  FAIL: ${id}: apiVersion ${o.apiVersion}, schema is for ${Model.apiVersion}`);
    failed++;
    continue;
  }
  try {
    new Model(o).validate();
    if (flag !== "--expect-failure") console.log(`  ok: ${id} (${o.apiVersion}) valid against its CRD schema`);
  } catch (e) {
    failed++;
    console.log(`  ${flag === "--expect-failure" ? "rejected as expected" : "FAIL"}: ${id}: ${e.message}`);
  }
}
if (flag === "--expect-failure") process.exit(failed === objects.length ? 0 : 1);
process.exit(failed ? 1 : 0);
