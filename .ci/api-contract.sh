#!/usr/bin/env bash
# The showcase against its own OpenAPI document: an independent validator checks the document,
# then schemathesis fuzzes every operation (bounded in examples and time) with all its checks:
# no 5xx, documented status codes, content types and schemas, 405s with Allow, auth enforced.
# Loopback only; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/showcase-server.sh
VENV=target/ci-venv

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check openapi-spec-validator schemathesis

"$SHOWCASE" openapi > target/showcase-openapi.json
# The committed API lock: any change to the showcase's contract fails here until the lock is
# reviewed and rewritten (`showcase openapi --write examples/showcase/openapi.lock.json`).
"$SHOWCASE" check --api examples/showcase/openapi.lock.json
"$VENV/bin/openapi-spec-validator" target/showcase-openapi.json

# The permissions files against the JSON schema editors use for them; a wrong action must fail.
"$VENV/bin/python" - <<'PY'
import glob, json, tomllib
import jsonschema
schema = json.load(open("endpoint-runtime/permissions.schema.json"))
files = glob.glob("endpoint-runtime/tests/services/*.toml") + glob.glob("examples/**/permissions.toml", recursive=True)
assert files, "no permissions file found"
for path in files:
    with open(path, "rb") as f:
        jsonschema.validate(tomllib.load(f), schema)
    print("permissions schema:", path, "ok")
for wrong in ({"public": {"articles": {"reed": {}}}}, {"public": {"articles": {"read": {"filters": {}}}}}):
    try:
        jsonschema.validate(wrong, schema)
    except jsonschema.ValidationError:
        continue
    raise SystemExit(f"the schema accepts {wrong}")
PY

export ENDPOINT_JWT_SECRET=ci-contract-secret-0123456789abcdef012
# The live audit log streams until its lifetime is over: short here, so that every fuzzed call
# of it ends.
export ENDPOINT_PORT=0 ENDPOINT_HOST=127.0.0.1 RUST_LOG=warn ENDPOINT_STREAM_LIFETIME=1s
start_showcase
TOKEN=$("$SHOWCASE" token --user ci-admin --admin)

# The document the server serves: the `openapi` command's, plus the `/items` REST face of
# every collection of the database it opened (checked here; the fuzzing below covers the
# endpoints' operations, the `/items` face is tested in endpoint-runtime/tests/services.rs).
"$VENV/bin/python" -c "import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen('$BASE/openapi.json').read())" \
  > target/showcase-served-openapi.json
"$VENV/bin/openapi-spec-validator" target/showcase-served-openapi.json
grep -q '"/items/recipes"' target/showcase-served-openapi.json

# .ci/schemathesis.toml: the operations that refuse schema-valid data on purpose, and why.
"$VENV/bin/st" --config-file .ci/schemathesis.toml run target/showcase-openapi.json --url "$BASE" --checks all \
  --max-examples 10 --max-time 60 --workers 2 --seed 20261122 \
  -H "Authorization: Bearer $TOKEN"

# The `/items` REST face of every collection, as an admin (its writes reach the database):
# hostile queries and payloads never make the server fail (5xx), and every answer is a status
# the document lists. Unique and foreign-key rules are not in a JSON schema, so a schema-valid
# payload may still be refused (400): the checks on accepting valid data do not apply here.
# The coverage phase is left out: on these schemas schemathesis 4.32 sometimes fails inside
# itself (a `KeyError` in its constraint walker, seen once in five runs), not in the server.
"$VENV/bin/st" run target/showcase-served-openapi.json --url "$BASE" --include-tag items \
  --phases examples,fuzzing,stateful \
  --checks not_a_server_error,status_code_conformance \
  --max-examples 10 --max-time 60 --workers 2 --seed 20261201 \
  -H "Authorization: Bearer $TOKEN"
