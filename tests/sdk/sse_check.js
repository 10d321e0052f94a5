#!/usr/bin/env node
// The official JavaScript SDK (npm casper-js-sdk) as a client of an event stream: its SseClient,
// subscribed to every event type it knows, parses each event with the SDK's own parser for that type.
//
//   node tests/sdk/sse_check.js STREAM_URL COUNT [START_FROM]
//
// Prints one JSON line per event: {"name","id","data","parsed"} ("parsed" is the parser's result as
// JSON, or {"error": message} when the parser failed; null for a type the SDK has no parser for),
// then exits 0 once COUNT events arrived, 2 when they did not within CES_SDK_TIMEOUT_MS (30000).
// Environment: CES_SDK_DIR (folder holding node_modules/casper-js-sdk; default
// $CES_TOOLS/casper-js-sdk-<CASPER_JS_SDK_VERSION from versions.env>).
"use strict";

const fs = require("fs");
const { loadTool } = require("../support/npm_tool.js");

const sdk = loadTool("casper-js-sdk", "CASPER_JS_SDK_VERSION", process.env.CES_SDK_DIR);
const { SseClient, EventName } = sdk;

// The SDK's parser of each event type (RawEvent.parseAs…); DeployExpired, Shutdown and EventID have none.
const parsers = {
  [EventName.APIVersionEventType]: (e) => e.parseAsAPIVersionEvent(),
  [EventName.BlockAddedEventType]: (e) => e.parseAsBlockAddedEvent(),
  [EventName.DeployProcessedEventType]: (e) => e.parseAsDeployProcessedEvent(),
  [EventName.DeployAcceptedEventType]: (e) => e.parseAsDeployAcceptedEvent(),
  [EventName.TransactionProcessedEventType]: (e) => e.parseAsTransactionProcessedEvent(),
  [EventName.TransactionAcceptedEventType]: (e) => e.parseAsTransactionAcceptedEvent(),
  [EventName.TransactionExpiredEventType]: (e) => e.parseAsTransactionExpiredEvent(),
  [EventName.FinalitySignatureType]: (e) => e.parseAsFinalitySignatureEvent(),
  [EventName.StepEventType]: (e) => e.parseAsStepEvent(),
  [EventName.FaultEventType]: (e) => e.parseAsFaultEvent(),
};

function toJson(value) {
  return JSON.stringify(value, (key, v) => (typeof v === "bigint" ? v.toString() : v));
}

function parse(name, raw) {
  const parser = parsers[name];
  if (!parser) return null;
  try {
    const result = parser(raw);
    if (result instanceof Error) return { error: result.message };
    return JSON.parse(toJson(result));
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

function main() {
  const url = process.argv[2];
  const count = Number(process.argv[3]);
  const startFrom = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  if (!url || !(count > 0)) throw new Error("usage: sse_check.js STREAM_URL COUNT [START_FROM]");
  const client = new SseClient(url);
  let received = 0;
  const finish = (status) => {
    client.stop();
    process.exit(status);
  };
  for (const name of Object.values(EventName)) {
    client.subscribe(name, (raw) => {
      if (received >= count) return;
      received += 1;
      // Synchronously: process.exit would cut a pending write to a pipe.
      fs.writeSync(1, toJson({ name, id: raw.lastEventId, data: raw.data, parsed: parse(name, raw) }) + "\n");
      if (received === count) finish(0);
    });
  }
  client.start(startFrom);
  // The SDK throws from its error handler (a stream that ends, a reconnect): count on the timeout instead.
  client.eventSource.onerror = () => {};
  setTimeout(() => {
    process.stderr.write("only " + received + " of " + count + " events from " + url + "\n");
    finish(2);
  }, Number(process.env.CES_SDK_TIMEOUT_MS || 30000));
}

main();
