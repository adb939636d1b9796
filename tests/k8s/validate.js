#!/usr/bin/env node
// Validates Kubernetes objects against the API schema, without a server (kubectl --dry-run
// needs one), with the kubernetes-models package's validate().
//   node tests/k8s/validate.js FILE...      (FILE may be "-" for stdin)
// A FILE holds JSON (one object, or a kubectl "List") or YAML (one or more documents).
// Objects of kind List, and XList kinds, are checked item by item. Prints one line per
// object ("ok FILE: Kind namespace/name" or "not ok FILE: Kind name: why"); exit 0 when all
// pass, 1 when any fails, 2 when a file cannot be read or parsed.
// The schema is the API's OpenAPI one: types, required fields, enums and formats are
// checked; like a server in non-strict mode, unknown fields are not.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind))
    return null;
  const path = apiVersion.includes("/") ? apiVersion : `v1`;
  if (!/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(path)) return null;
  try {
    return require(`kubernetes-models/${path}/${kind}`)[kind] || null;
  } catch (e) {
    return null;
  }
}

// Parses a file's text into objects: JSON first (kubectl's -o json), else YAML documents.
function parse(text) {
  try {
    return [JSON.parse(text)];
  } catch (e) {
    const docs = YAML.parseAllDocuments(text);
    const out = [];
    for (const d of docs) {
      if (d.errors.length) throw new Error(d.errors[0].message);
      const v = d.toJS();
      if (v !== null && v !== undefined) out.push(v);
    }
    return out;
  }
}

let failed = 0;
let checked = 0;

function check(file, obj, where) {
  const name = obj && obj.metadata ? (obj.metadata.namespace ? obj.metadata.namespace + "/" : "") +
      (obj.metadata.name || obj.metadata.generateName || "?") : "?";
  const label = `${file}${where}: ${obj && obj.kind ? obj.kind : "?"} ${name}`;
  checked++;
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
    failed++;
    console.log(`not ok ${label}: not an object`);
    return;
  }
  if (obj.kind === "List" || (/List$/.test(obj.kind || "") && Array.isArray(obj.items))) {
    if (!Array.isArray(obj.items)) {
      failed++;
      console.log(`not ok ${label}: a List without items`);
      return;
    }
    checked--;
    obj.items.forEach((item, i) => check(file, item, `${where}[${i}]`));
    return;
  }
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) {
    failed++;
    console.log(`not ok ${label}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
    return;
  }
  if (!obj.metadata || !(obj.metadata.name || obj.metadata.generateName)) {
    failed++;
    console.log(`not ok ${label}: metadata.name is required`);
    return;
  }
  try {
    new Model(obj).validate();
    console.log(`ok ${label}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${label}: ${e.message}`);
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.js FILE... (JSON or YAML; - for stdin)");
  process.exit(2);
}
for (const file of files) {
  let objs;
  try {
    objs = parse(fs.readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (e) {
    console.error(`validate.js: ${file}: ${e.message}`);
    process.exit(2);
  }
  if (objs.length === 0) {
    console.error(`validate.js: ${file}: no objects`);
    process.exit(2);
  }
  objs.forEach((o, i) => check(file, o, objs.length > 1 ? `#${i}` : ""));
}
if (checked === 0) {
  console.error("validate.js: no objects");
  process.exit(2);
}
process.exit(failed ? 1 : 0);
