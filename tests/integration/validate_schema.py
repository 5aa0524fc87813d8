#!/usr/bin/python3
# Validates brood JSON results against docs/result.schema.json with Debian's
# python3-jsonschema (Draft 2020-12). Exit 0 when every file is valid;
# 1 with each error on stderr otherwise; 77 when jsonschema is missing.
import json
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is missing: run scripts/setup.sh", file=sys.stderr)
    sys.exit(77)

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    doc = json.load(open(path))
    for err in validator.iter_errors(doc):
        bad += 1
        where = "/".join(str(p) for p in err.absolute_path)
        print(f"{path}: {where}: {err.message}", file=sys.stderr)
sys.exit(1 if bad else 0)
