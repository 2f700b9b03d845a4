// A second, independent gRPC client of `cpuinfer serve` (Node's @grpc/grpc-js, its own HTTP/2,
// with @grpc/proto-loader reading the server's .proto): reads a JSON list of calls on stdin,
//   [{"call": "ModelInfer", "request": {...}, "timeout_ms": 1000}, ...]
// makes them one after another, and prints a JSON list of their results on stdout,
//   [{"ok": true, "response": {...}} | {"ok": false, "code": "INVALID_ARGUMENT", "details": "..."}].
// Bytes travel as base64 both ways (raw_input_contents, raw_output_contents, bytes_contents).
// Usage: node oip_grpc_client.js <host:port> <grpc_predict_v2.proto>   (NODE_PATH: the modules)
"use strict";
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [target, protoPath] = process.argv.slice(2);
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const inference = grpc.loadPackageDefinition(definition).inference;
const client = new inference.GRPCInferenceService(target, grpc.credentials.createInsecure(),
  { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 });
const codeName = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function decodeBytes(request) {
  if (request.raw_input_contents) request.raw_input_contents = request.raw_input_contents.map((b) => Buffer.from(b, "base64"));
  for (const input of request.inputs || [])
    if (input.contents && input.contents.bytes_contents)
      input.contents.bytes_contents = input.contents.bytes_contents.map((b) => Buffer.from(b, "base64"));
  return request;
}

function encodeBytes(response) {
  return JSON.parse(JSON.stringify(response, (key, value) =>
    value && value.type === "Buffer" && Array.isArray(value.data) ? Buffer.from(value.data).toString("base64") : value));
}

function call({ call, request, timeout_ms }) {
  return new Promise((resolve) => {
    const options = timeout_ms ? { deadline: new Date(Date.now() + timeout_ms) } : {};
    client[call](decodeBytes(request || {}), options, (error, response) =>
      resolve(error ? { ok: false, code: codeName[error.code], details: error.details } : { ok: true, response: encodeBytes(response) }));
  });
}

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const results = [];
  for (const c of JSON.parse(input)) results.push(await call(c));
  process.stdout.write(JSON.stringify(results));
  client.close();
}

main().catch((e) => {
  process.stderr.write(`oip_grpc_client: ${e.stack || e}\n`);
  process.exit(1);
});
