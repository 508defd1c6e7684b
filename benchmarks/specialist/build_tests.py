"""Build a specialist's held-out test set in BFCL's format from its hand-written cases.

    python benchmarks/specialist/build_tests.py petstore tests/fixtures/openapi/petstore3.yaml

<api>/cases.json holds the requests and their expected calls, written by hand before any data was generated:
{"q": request, "call": {name: {argument: [acceptable values]}}} or "call": null for a request no tool serves.
This writes <api>/tests.json (BFCL question entries, every tool of the spec offered) and
<api>/tests.answers.json (BFCL possible answers, where `localace eval --data <api>/tests.json` looks for them),
after checking every call against the imported tools: known name, known arguments, required ones given, each
value valid for its schema. Optional arguments a case leaves out are written as [""] (BFCL: may be omitted).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema

from localace.apis.openapi_import import import_openapi
from localace.apis.spec import strip_vendor_keys
from localace.apis.tool_formats import to_bfcl

HERE = Path(__file__).parent


def answers_for(call: dict, tools: dict) -> dict:
    ((name, args),) = call.items()
    spec = tools[name]
    properties, required = spec.parameters.get("properties", {}), set(spec.parameters.get("required", []))
    unknown = set(args) - set(properties)
    missing = required - {arg for arg, values in args.items() if "" not in values}
    if unknown or missing:
        raise SystemExit(f"{name}: unknown arguments {sorted(unknown)}, required missing {sorted(missing)}")
    for arg, values in args.items():
        schema = strip_vendor_keys(properties[arg])
        for value in values:
            if value != "" and not isinstance(value, dict):
                jsonschema.validate(value, schema)
    return {name: {**args, **{p: [""] for p in properties if p not in args and p not in required}}}


def main(api: str, spec_path: str) -> None:
    tools = {spec.name: spec for spec in import_openapi(Path(spec_path)).apis}
    # What a model is offered: name, description, parameters (BFCL entries carry no return schemas).
    functions = [{k: v for k, v in to_bfcl(spec).items() if k != "returns"} for spec in tools.values()]
    cases = json.loads((HERE / api / "cases.json").read_text(encoding="utf-8"))
    entries, answers, counts = [], [], {"multiple": 0, "irrelevance": 0}
    for case in cases:
        category = "multiple" if case["call"] else "irrelevance"
        ident = f"{category}_{counts[category]}"
        counts[category] += 1
        entries.append({"id": ident, "question": [[{"role": "user", "content": case["q"]}]], "function": functions})
        if case["call"]:
            answers.append({"id": ident, "ground_truth": [answers_for(case["call"], tools)]})
    for name, rows in (("tests.json", entries), ("tests.answers.json", answers)):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (HERE / api / name).write_text(text, encoding="utf-8")
    print(f"{api}: {counts['multiple']} requests with an expected call, {counts['irrelevance']} that no tool serves")


if __name__ == "__main__":
    main(*sys.argv[1:3])
