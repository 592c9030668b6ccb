#!/usr/bin/env python3
"""Replays one of the AuthZEN working group's interop suites against a running PDP.

    scripts/authzen-interop.py todo|gateway|search URL TOKEN [--markdown FILE]

The decision files are those of examples/authzen/interop (copied from openid/authzen, see
its README). Each case is sent as the working group's runner sends it and compared as the
runner compares it:

- Todo and API gateway (interop/authzen-todo-backend/test/runner.ts and
  interop/authzen-api-gateways/test-harness/test/runner.ts): `POST /access/v1/evaluation`
  passes when `decision` equals the expected boolean; `POST /access/v1/evaluations` when the
  whole `evaluations` array equals the expected one.
- Search (interop/authzen-search-demo/test/src/runner.ts): `POST /access/v1/search/{subject,
  resource,action}` passes when the whole response equals the expected one, results compared
  in any order. (That runner orders results by `type` and `id`, which action results do not
  have; here they are ordered by `name`.)

Every request carries `Authorization: Bearer TOKEN` (the search runner sends none).
Prints one line per case and a summary; exits 1 when any case fails. With --markdown, also
writes the results as the working group's website shows them (a table of result and request).
"""

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "examples" / "authzen" / "interop"


def post(url, token, path, body):
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def cases(scenario):
    """(endpoint path, request, comparison) for every case of a suite, in the runner's order."""
    if scenario in ("todo", "gateway"):
        name = "todo/decisions-authorization-api-1_0-02.json" if scenario == "todo" else "gateway/decisions.json"
        data = json.loads((DATA / name).read_text())
        for case in data.get("evaluation", []):
            yield "/access/v1/evaluation", case["request"], ("decision", case["expected"])
        for case in data.get("evaluations", []):
            yield "/access/v1/evaluations", case["request"], ("evaluations", case["expected"])
    else:
        for kind in ("subject", "action", "resource"):
            data = json.loads((DATA / "search" / kind / "results.json").read_text())
            for case in data["evaluation"]:
                yield f"/access/v1/search/{kind}", case["request"], ("search", case["expected"])


def ordered(response):
    """A search response with its results in one order (`type` and `id`, or `name`)."""
    if not isinstance(response, dict) or not isinstance(response.get("results"), list):
        return response
    key = lambda r: (r.get("type", ""), r.get("id", ""), r.get("name", "")) if isinstance(r, dict) else ("", "", "")
    return {**response, "results": sorted(response["results"], key=key)}


def passes(status, body, comparison):
    kind, expected = comparison
    if status != 200 or not isinstance(body, dict):
        return False
    if kind == "decision":
        return (body.get("decision") or False) == expected
    if kind == "evaluations":
        return (body.get("evaluations") or []) == expected
    return ordered(body) == ordered(expected)


TITLES = {
    "todo": "Todo (AuthZEN 1.0 draft 02 decisions)",
    "gateway": "API gateway",
    "search": "Search (subject, action and resource search)",
}


def markdown(scenario, rows):
    passed = sum(result == "PASS" for result, _ in rows)
    lines = [
        "---",
        "sidebar_position: 1",
        "---",
        "",
        f"# Portcullis: {TITLES[scenario]}",
        "",
        f"Interop results for Portcullis answering the scenario from the rule site `examples/authzen/{scenario}.yaml`",
        f"(`examples/authzen/serve.sh {scenario} ADDR TOKEN`): {passed} of {len(rows)} cases pass.",
        "Written by `scripts/authzen-interop.sh --markdown docs/authzen-interop`.",
        "",
        "## Test results",
        "",
        "```bash",
        f"scripts/authzen-interop.py {scenario} http://127.0.0.1:PORT TOKEN --markdown docs/authzen-interop/{scenario}.md",
        "```",
        "",
        "<table>", "  <tr>", "    <th>result</th>", "    <th>request</th>", "  </tr>"]
    for result, request in rows:
        color = "green" if result == "PASS" else "red"
        lines += [
            "  <tr>",
            f'    <td bgColor="{color}">{result}</td>',
            "    <td>",
            "",
            "```js",
            json.dumps(request, indent=2),
            "```",
            "",
            "  </td>",
            "  </tr>",
        ]
    lines.append("</table>")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) not in (4, 6) or argv[1] not in ("todo", "gateway", "search") or (len(argv) == 6 and argv[4] != "--markdown"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    scenario, url, token = argv[1], argv[2], argv[3]
    rows, failed = [], 0
    for path, request, comparison in cases(scenario):
        status, body = post(url, token, path, request)
        ok = passes(status, body, comparison)
        failed += not ok
        rows.append(("PASS" if ok else "FAIL", request))
        print(f"{'PASS' if ok else 'FAIL'} {path} {json.dumps(request)}")
        if not ok:
            print(f"     expected {json.dumps(comparison[1])}")
            print(f"     got {status} {json.dumps(body) if not isinstance(body, str) else body}")
    print(f"{scenario}: {len(rows) - failed} of {len(rows)} cases pass")
    if len(argv) == 6:
        Path(argv[5]).write_text(markdown(scenario, rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
