"""Save-then-next in the browser: the time from the submit key to the next prompt on screen (and to both of its
videos ready to play), measured by the annotation page itself (`window.vidprefMetrics`) in headless Chromium.

Runs against a running server (e.g. `bash scripts/run.sh`, which seeds the demo project) and judges N
comparisons as the given annotator — it writes real judgements:

    .venv/bin/python benchmarks/ui_save_next.py --url http://127.0.0.1:8000 --project demo -n 20

Prints the percentiles and splits each figure into the server's share (the submit and next requests, from the
browser's resource timing) and the page's own share (everything else).
"""

import argparse
import json
import statistics
import sys

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]

API_TIMES = """() => performance.getEntriesByType('resource')
  .filter(e => /\\/(submit|next)\\/$/.test(e.name))
  .map(e => ({name: e.name.endsWith('/submit/') ? 'submit' : 'next', ms: e.duration}))"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 1) if isinstance(value, float) else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--project", default="demo")
    parser.add_argument("--user", default="annotator")
    parser.add_argument("--password", default="annotate-demo")
    parser.add_argument("-n", type=int, default=20, help="comparisons to judge")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720}, base_url=args.url)
        page.goto("/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:text('Your projects')")
        page.goto(f"/projects/{args.project}/annotate/")
        judged = 0
        for _ in range(args.n):
            page.wait_for_selector("body[data-videos-ready], #done:not([hidden])")
            if page.is_visible("#done"):
                break
            current = page.evaluate("document.body.dataset.assignment")
            for key in ("1", "3", "2", "Enter"):
                page.keyboard.press(key)
            page.wait_for_function(
                "prev => document.body.dataset.videosReady !== prev || !document.getElementById('done').hidden",
                arg=current,
            )
            judged += 1
        page.wait_for_timeout(300)
        metrics = page.evaluate("window.vidprefMetrics")
        api = page.evaluate(API_TIMES)
        browser.close()

    prompt, videos = metrics["saveToPromptMs"], metrics["saveToVideosMs"]
    if not prompt:
        print("nothing measured: the project has no comparisons left for this annotator", file=sys.stderr)
        return 1
    submits = [a["ms"] for a in api if a["name"] == "submit"]
    nexts = [a["ms"] for a in api if a["name"] == "next"][1:]  # the first next opened the page
    server = statistics.median(submits) + statistics.median(nexts) if submits and nexts else float("nan")
    report = {
        "judged": judged,
        "save_to_prompt_ms": {"median": statistics.median(prompt), "p90": percentile(prompt, 0.9), "max": max(prompt)},
        "save_to_videos_ms": {"median": statistics.median(videos), "p90": percentile(videos, 0.9)} if videos else None,
        "requests_ms": {"submit_median": statistics.median(submits) if submits else None,
                        "next_median": statistics.median(nexts) if nexts else None},
        "page_share_ms": statistics.median(prompt) - server,
    }
    print(json.dumps(_rounded(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
