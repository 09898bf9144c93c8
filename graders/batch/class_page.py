"""The class report's page: its inline style sheet and HTML skeleton (``graders.batch.
class_report`` fills it in, every value already escaped).

The Content-Security-Policy forbids scripts, frames, fonts, images and any fetch: should a
learner's text ever slip through unescaped, the browser still runs and loads nothing.
"""

from __future__ import annotations

from string import Template

#: What the page may use: its own inline style sheet, nothing else.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d1d1f; margin: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #555; margin: 0 0 4px; }
.facts span { display: inline-block; margin-right: 18px; }
.facts b { font-size: 18px; }
table { border-collapse: collapse; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.message { color: #555; }
span.cut { display: inline-block; max-width: 240px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; vertical-align: bottom; }
td code { white-space: nowrap; }
td { overflow-wrap: anywhere; }
code { font-size: 13px; }
.tag { background: #eee; border-radius: 3px; padding: 0 4px; font-size: 11px; }
.chart text { font: 11px system-ui, sans-serif; fill: #333; }
.axis { stroke: #999; }
.bar { fill: #3f6fb5; }
.track { fill: #f0f0f0; }
.passed { fill: #2e7d32; }
.partial { fill: #f9a825; }
.failed { fill: #c62828; }
.blocked { fill: #9e9e9e; }
.complete { fill: #3f6fb5; }
rect.timed-out { fill: #ef6c00; }
rect.error, rect.interrupted, rect.running { fill: #c62828; }
span.status { padding: 0 5px; border-radius: 3px; background: #e8eef8; }
span.status.timed-out { background: #fdebd3; }
span.status.error { background: #fbdcdc; }
.legend span { margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.legend i.passed { background: #2e7d32; }
.legend i.partial { background: #f9a825; }
.legend i.failed { background: #c62828; }
.legend i.blocked { background: #9e9e9e; }
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report — $lab_id</title>
<style>$style</style>
</head>
<body>
<h1>Class report — <code>$lab_id</code></h1>
<p class="meta">$lab_title</p>
<p class="meta">Built from the same reports as <code>gradebook.csv</code>, at $when.</p>
<p class="facts"><span><b id="count">$count</b> submissions</span>
<span><b id="complete">$complete</b> complete</span>
<span><b id="timed-out">$timed_out</b> timed out</span>
<span><b id="errors">$errors</b> errors</span>
<span>mean of the complete gradings: <b id="mean">$mean</b> %</span>
<span>out of <b id="total">$total</b> points</span></p>

<h2>Score distribution</h2>
<p class="meta">Complete gradings, percent of the lab's full total in bins of 10 %.
Time-outs and errors are not in it: they are listed apart below.</p>
$distribution

<h2>Checks, the most failed first</h2>
<p class="meta">Out of the submissions with a score (complete and timed out). A check that did
not run (blocked by a check it requires, or left when the time ran out) counts as not passed.</p>
<p class="legend"><span><i class="passed"></i>passed</span>
<span><i class="partial"></i>partial</span> <span><i class="failed"></i>failed</span>
<span><i class="blocked"></i>did not run</span></p>
<table id="checks">
<thead><tr><th>Check</th><th>Passed</th><th>Rate</th><th></th><th>Partial</th><th>Failed</th>
<th>Did not run</th><th>Most common message</th></tr></thead>
<tbody>
$checks
</tbody>
</table>

<h2>Time per submission</h2>
$times

<h2>Errors and time-outs</h2>
<p class="meta">An error is never a score (the grader or the machine broke); a time-out scores
only the checks that finished.</p>
<table id="apart">
<thead><tr><th>Submission</th><th>Status</th><th>Time</th><th>Why</th></tr></thead>
<tbody>
$apart
</tbody>
</table>

<h2>Submissions</h2>
<table id="students">
<thead><tr><th>Submission</th><th>Score</th><th>Percent</th><th>Status</th><th>Time</th></tr>
</thead>
<tbody>
$students
</tbody>
</table>
</body>
</html>
"""
)


def page(**values: object) -> str:
    """The page with ``values`` (already escaped) in place, and its style sheet and policy."""
    return _PAGE.substitute(csp=CONTENT_SECURITY_POLICY, style=STYLE, **values)
