// Loads an npm package that scripts/setup.sh installed into $CES_TOOLS/<package>-<version>/node_modules,
// the version pinned in versions.env under `versionKey`; `dir` (optional) is another folder holding
// node_modules/<package>.
"use strict";

const fs = require("fs");
const path = require("path");

function pinnedVersion(key) {
  const text = fs.readFileSync(path.join(__dirname, "..", "..", "versions.env"), "utf8");
  const m = text.match(new RegExp("^" + key + "=([^\\s#]+)", "m"));
  if (!m) throw new Error("versions.env does not set " + key);
  return m[1];
}

function loadTool(packageName, versionKey, dir) {
  const tools = process.env.CES_TOOLS || "/opt/casper-event-store/tools";
  const folder = dir || path.join(tools, packageName + "-" + pinnedVersion(versionKey));
  const module = path.join(folder, "node_modules", packageName);
  if (!fs.existsSync(module)) {
    throw new Error(packageName + " not found in " + module + " (run scripts/setup.sh)");
  }
  return require(module);
}

module.exports = { loadTool, pinnedVersion };
