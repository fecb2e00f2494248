// Validates Kubernetes manifests against the API schemas that the npm
// package kubernetes-models ships (generated from the Kubernetes OpenAPI
// specification): types, required fields, enums and formats of every field.
//
// Usage: node validate.mjs FILE.yaml...
// Prints one line per object ("ok" or its errors) and exits 1 when any
// object is invalid or of a kind without a schema. Custom resources
// (kubeflow.org PyTorchJob) have no schema there: their pod templates are
// validated as core/v1 PodTemplateSpec instead, the rest of the object is
// left to tests/deploy_manifests_test.py.
import fs from "node:fs";
import yaml from "js-yaml";

// Pod templates inside custom resources, by apiVersion/kind.
const CUSTOM = {
  "kubeflow.org/v1/PyTorchJob": (obj) =>
    Object.entries(obj.spec?.pytorchReplicaSpecs ?? {}).map(([role, spec]) => [
      `spec.pytorchReplicaSpecs.${role}.template`,
      spec?.template,
    ]),
};

async function model(apiVersion, kind) {
  // core/v1 lives at kubernetes-models/v1/<Kind>, group/version at
  // kubernetes-models/<group>/<version>/<Kind>.
  try {
    const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
    return mod[kind];
  } catch (e) {
    if (e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || e.code === "ERR_MODULE_NOT_FOUND") {
      return null;
    }
    throw e;
  }
}

function describe(e) {
  // The package's ValidationError names each failing path.
  return String(e.message ?? e).replace(/\s+/g, " ").trim();
}

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  let docs;
  try {
    docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter((d) => d != null);
  } catch (e) {
    console.log(`${file}: not valid YAML: ${describe(e)}`);
    failures++;
    continue;
  }
  for (const doc of docs) {
    const where = `${file}: ${doc.kind} ${doc.metadata?.name ?? "(no name)"}`;
    const key = `${doc.apiVersion}/${doc.kind}`;
    const Model = await model(doc.apiVersion, doc.kind);
    const parts = [];
    if (Model) {
      parts.push(["", () => new Model(doc).validate()]);
    } else if (CUSTOM[key]) {
      const PodTemplateSpec = await model("v1", "PodTemplateSpec");
      const templates = CUSTOM[key](doc);
      if (templates.length === 0) {
        console.log(`${where}: no pod template found`);
        failures++;
        continue;
      }
      for (const [path, t] of templates) {
        parts.push([path, () => new PodTemplateSpec(t).validate()]);
      }
    } else {
      console.log(`${where}: no schema for ${key}`);
      failures++;
      continue;
    }
    const errors = [];
    for (const [path, check] of parts) {
      try {
        check();
      } catch (e) {
        errors.push((path ? `${path}: ` : "") + describe(e));
      }
    }
    checked++;
    if (errors.length) {
      failures++;
      console.log(`${where}: INVALID: ${errors.join("; ")}`);
    } else {
      console.log(`${where}: ok${Model ? "" : " (pod templates only)"}`);
    }
  }
}
console.log(`${checked} objects checked, ${failures} invalid`);
process.exit(failures ? 1 : 0);
