// The HTML page: data and chart libraries inlined, drawn by a small script with Vega-Lite.
// A Content-Security-Policy with default-src 'none' keeps the page from loading anything.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "report/report_writers.h"

namespace cpuinfer {

namespace {

std::string read_script(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("chart library missing: {} (scripts/setup.sh installs it from npm)", file.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Text inside <script> ends at the first "</script": escape the slash ("<\/" means "</" inside
// JavaScript strings and regular expressions, and "\/" is a JSON escape). In the JSON data every "</"
// is escaped, as it can only occur inside strings there.
std::string script_safe(const std::string& text, bool json) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] != '<' || i + 1 >= text.size() || text[i + 1] != '/') continue;
    std::string next = text.substr(i + 2, 6);
    for (char& c : next) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (json || next == "script") out += '\\';
  }
  return out;
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; cursor: pointer; } td.text, th.text { text-align: left; }
tr.flagged td { background: #fff2cc; } tr.failed td { color: #a00; }
.banner { background: #fde8e8; border: 1px solid #e99; padding: 6px 10px; margin: 0.5em 0; }
.rec { background: #e8f4ea; } .charts { display: flex; flex-wrap: wrap; gap: 2em; }
.note { color: #666; font-size: 12px; }
)css";

constexpr const char* kApp = R"js(
const report = JSON.parse(document.getElementById('report-data').textContent);
const fmt = (v, d, scale = 1, unit = '') => (typeof v === 'number') ? (v * scale).toFixed(d) + unit : '-';
// Times (ms, or s) to three significant digits however small (0.0123, not 0.0).
const ms = (v, scale = 1) => {
  if (typeof v !== 'number') return '-';
  const x = v * scale;
  return (x === 0 || !isFinite(x)) ? String(x) : x.toFixed(Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x)))));
};
// A median and its range over repeats: "12.3 (11.9–13.0)".
const spread = (r, key, show) => show(r[key]) +
  (typeof r[key + '_min'] === 'number' && r[key + '_min'] !== r[key + '_max'] ? ` (${show(r[key + '_min'])}–${show(r[key + '_max'])})` : '');
const speedup = r => fmt(r.speedup, 2, 1, 'x') +
  (typeof r.speedup_min === 'number' && r.repeats_ok > 1 ? ` (${r.speedup_min.toFixed(2)}–${r.speedup_max.toFixed(2)})` : '');
// The ⚠ goes beside what judged the row: top-1 where it was compared, else the relative difference.
const flag = (r, top1Column) => r.flagged && (typeof r.top1_agreement === 'number') === top1Column ? ' ⚠' : '';
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}
function table(columns, rows, rowClass = () => '') {
  const t = el('table');
  const head = el('tr');
  columns.forEach((c, i) => {
    const th = el('th', {class: c.text ? 'text' : ''}, c.title);
    th.onclick = () => {  // sortable: click a header, click again to reverse
      const body = [...t.querySelectorAll('tr')].slice(1);
      const dir = th.dataset.dir === 'asc' ? -1 : 1;
      th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      body.sort((a, b) => {
        const x = a.children[i].dataset.v, y = b.children[i].dataset.v;
        const nx = parseFloat(x), ny = parseFloat(y);
        return dir * (isNaN(nx) || isNaN(ny) ? String(x).localeCompare(String(y)) : nx - ny);
      }).forEach(r => t.append(r));
    };
    head.append(th);
  });
  t.append(head);
  for (const r of rows) {
    const tr = el('tr', {class: rowClass(r)});
    for (const c of columns) {
      const raw = c.value(r);
      tr.append(el('td', {class: c.text ? 'text' : '', 'data-v': raw ?? ''}, c.show ? c.show(r) : String(raw ?? '-')));
    }
    t.append(tr);
  }
  return t;
}
const charts = [];
// Bars of `field` per batch size and backend; with repeats, whiskers from its min to its max.
function chart(id, rows, field, title, repeated) {
  const tooltip = [{field: 'series'}, {field: 'batch_size'}, {field, format: '.3f'}];
  if (repeated) tooltip.push({field: field + '_min', title: 'min over repeats', format: '.3f'},
                             {field: field + '_max', title: 'max over repeats', format: '.3f'});
  const x = {field: 'batch_size', type: 'ordinal', title: 'batch size'}, xOffset = {field: 'series'};
  const layer = [{mark: 'bar', encoding: {x, xOffset, y: {field, type: 'quantitative', title},
                                          color: {field: 'series', title: 'backend'}, tooltip}}];
  if (repeated) layer.push({mark: {type: 'rule', color: '#222'},
                            encoding: {x, xOffset, y: {field: field + '_min', type: 'quantitative'}, y2: {field: field + '_max'}}});
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: {step: 14}, height: 260,
    data: {values: rows},
    layer
  };
  charts.push(vegaEmbed('#' + id, spec, {renderer: 'svg', actions: false}));
}
const main = document.getElementById('main');
if (report.files.length) main.append(el('p', {class: 'note'}, `${report.files.length} result file(s); recommendation threshold: top-1 agreement ≥ ${(report.threshold * 100).toFixed(0)}%, or without top-1 a max relative difference ≤ ${report.max_rel_diff.toExponential(0)}; baseline ${report.baseline}.`));
if (report.files.length) main.append(el('h2', {}, 'Runs and machines'));
if (report.files.length) main.append(table([
  {title: 'run', text: true, value: f => f.label},
  {title: 'workload', text: true, value: f => f.workload},
  {title: 'weights', text: true, value: f => f.weights + (f.random_weights ? ' (accuracy meaningless)' : '')},
  {title: 'data', text: true, value: f => f.dataset},
  {title: 'baseline', text: true, value: f => f.baseline},
  {title: 'repeats', value: f => f.repeats},
  {title: 'CPU', text: true, value: f => f.machine.cpu},
  {title: 'ISA', text: true, value: f => (f.machine.isa || []).join(' ')},
  {title: 'cores', value: f => f.machine.usable_cores},
  {title: 'threads', value: f => f.protocol.threads},
  // Each library's name and version only (the full strings are in the result file).
  {title: 'libraries', text: true, value: f => Object.entries(f.libraries).map(([k, v]) => `${k} ${String(v).split(/[,(]/)[0].trim()}`).join(', ')},
  {title: 'started (UTC)', text: true, value: f => f.started_utc + (f.complete ? '' : ' — incomplete sweep')},
], report.files));
for (const f of report.files.filter(f => f.random_weights))
  main.append(el('div', {class: 'banner'}, `${f.label}: ${f.weights_note}`));
report.workloads.forEach((w, wi) => {
  const repeated = w.repeats > 1;
  main.append(el('h2', {}, w.name));
  main.append(el('h3', {}, 'Recommendation'));
  if (repeated) main.append(el('p', {class: 'note'}, `Medians over ${w.repeats} repeats; the speed-up's range over them in brackets.`));
  main.append(table([
    {title: 'run', text: true, value: r => r.file},
    {title: 'batch', value: r => r.batch_size},
    {title: 'use', text: true, value: r => r.series},
    {title: 'ms/sample', value: r => r.time_per_input, show: r => ms(r.time_per_input, 1000)},
    {title: `vs ${w.baseline}`, value: r => r.speedup, show: r => r.series === w.baseline ? 'the baseline' : speedup(r).replace(/x/, 'x faster')},
    {title: 'top-1 agreement', value: r => r.top1_agreement, show: r => fmt(r.top1_agreement, 1, 100, '%')},
    {title: 'max rel diff', value: r => r.max_rel_diff, show: r => typeof r.max_rel_diff === 'number' ? r.max_rel_diff.toExponential(1) : '-'},
  ], w.recommendations, () => 'rec'));
  // One bar per configuration: its median over the repeats that ran (its only run without repeats).
  // Time per sample, not total time: under --min-time every row runs about as long.
  const perMs = v => typeof v === 'number' ? v * 1000 : v;
  const bars = w.configurations.filter(c => c.repeats_ok > 0).map(c => ({...c, ms_per_sample: perMs(c.time_per_input),
    ms_per_sample_min: perMs(c.time_per_input_min), ms_per_sample_max: perMs(c.time_per_input_max)}));
  const faster = bars.filter(c => typeof c.speedup === 'number');
  const box = el('div', {class: 'charts'});
  box.append(el('div', {id: `chart-${wi}-runtime`, class: 'chart', 'data-bars': bars.length}));
  box.append(el('div', {id: `chart-${wi}-speedup`, class: 'chart', 'data-bars': faster.length}));
  main.append(box);
  chart(`chart-${wi}-runtime`, bars, 'ms_per_sample', repeated ? 'ms per sample, median' : 'ms per sample', repeated);
  chart(`chart-${wi}-speedup`, faster, 'speedup', `speed-up vs ${w.baseline}${repeated ? ', median' : ''}`, repeated);
  main.append(el('h3', {}, 'All results'));
  main.append(table([
    {title: 'series', text: true, value: r => r.series},
    {title: 'batch', value: r => r.batch_size},
    ...(repeated ? [{title: 'repeat', value: r => r.repeat}] : []),
    {title: 'total s', value: r => r.total_time, show: r => ms(r.total_time)},
    {title: 'ms/sample', value: r => r.time_per_input, show: r => ms(r.time_per_input, 1000)},
    {title: 'p50 ms', value: r => r.latency_p50_ms, show: r => ms(r.latency_p50_ms)},
    {title: 'p90 ms', value: r => r.latency_p90_ms, show: r => ms(r.latency_p90_ms)},
    {title: 'p99 ms', value: r => r.latency_p99_ms, show: r => ms(r.latency_p99_ms)},
    {title: 'samples/s', value: r => r.samples_per_s, show: r => fmt(r.samples_per_s, 2)},
    {title: 'padding', value: r => r.padding_fraction, show: r => fmt(r.padding_fraction, 0, 100, '%')},
    {title: 'accuracy', value: r => r.accuracy, show: r => fmt(r.accuracy, 1, 100, '%')},
    {title: 'top-1 agreement', value: r => r.top1_agreement, show: r => fmt(r.top1_agreement, 1, 100, '%') + flag(r, true)},
    {title: 'max abs diff', value: r => r.max_abs_diff, show: r => typeof r.max_abs_diff === 'number' ? r.max_abs_diff.toExponential(2) : '-'},
    {title: 'max rel diff', value: r => r.max_rel_diff, show: r => (typeof r.max_rel_diff === 'number' ? r.max_rel_diff.toExponential(1) : '-') + flag(r, false)},
    {title: 'speed-up', value: r => r.speedup, show: r => fmt(r.speedup, 2, 1, 'x')},
    {title: 'RSS MB', value: r => r.peak_rss_mb, show: r => fmt(r.peak_rss_mb, 0)},
    {title: 'status', text: true, value: r => r.status},
  ], w.rows, r => r.flagged ? 'flagged' : (r.status === 'ok' ? '' : 'failed')));
  if (repeated) {
    main.append(el('h3', {}, `Across ${w.repeats} repeats`));
    main.append(el('p', {class: 'note'}, 'Median (min–max) over the repeats that ran; each speed-up against the baseline\'s row of the same repeat.'));
    main.append(table([
      {title: 'series', text: true, value: c => c.series},
      {title: 'batch', value: c => c.batch_size},
      {title: 'repeats ran', value: c => c.repeats_ok, show: c => `${c.repeats_ok} of ${c.runs}`},
      {title: 'ms/sample', value: c => c.time_per_input, show: c => spread(c, 'time_per_input', v => ms(v, 1000))},
      {title: 'p50 ms', value: c => c.latency_p50_ms, show: c => spread(c, 'latency_p50_ms', v => ms(v))},
      {title: 'speed-up', value: c => c.speedup, show: c => speedup(c)},
      {title: 'status', text: true, value: c => c.status},
    ], w.configurations, c => c.flagged ? 'flagged' : (c.status === 'ok' ? 'repeats' : 'failed')));
  }
  if (w.cold_start.length) {
    main.append(el('h3', {}, 'Cold start'));
    main.append(el('p', {class: 'note'}, `Load: model file to ready; first run: the first inference after it${repeated ? ' (median and range over the repeats\' loads)' : ''}.`));
    main.append(table([
      {title: 'series', text: true, value: c => c.series},
      {title: 'load ms', value: c => c.load_ms, show: c => spread(c, 'load_ms', v => ms(v))},
      {title: 'first run ms', value: c => c.first_run_ms, show: c => spread(c, 'first_run_ms', v => ms(v))},
    ], w.cold_start, () => 'cold-start'));
  }
  for (const line of w.ort_fused) main.append(el('p', {class: 'note ort-fused'}, line));
  if (w.failures.length) {
    main.append(el('h3', {}, 'Failed or unsupported'));
    const ul = el('ul');
    for (const r of w.failures) ul.append(el('li', {}, `${r.series} batch ${r.batch_size}${typeof r.repeat === 'number' ? ' repeat ' + r.repeat : ''}: ${r.status}`));
    main.append(ul);
  }
});
// loadgen's runs: latency against throughput (sweeps), the Server scenario's search, percentiles over time.
if (report.load_tests.length) {
  main.append(el('h2', {}, 'Load tests'));
  main.append(table([
    {title: 'run', text: true, value: r => r.label},
    {title: 'workload', text: true, value: r => r.workload + (r.random_weights ? ' (seeded random weights)' : '')},
    {title: 'target', text: true, value: r => r.target},
    {title: 'instances x threads', text: true, value: r => r.threads},
    {title: 'scenario', text: true, value: r => r.kind},
    {title: 'CPU', text: true, value: r => r.machine.cpu},
    {title: 'ISA', text: true, value: r => (r.machine.isa || []).join(' ')},
    {title: 'started (UTC)', text: true, value: r => r.started_utc + (r.complete ? '' : ' — incomplete run')},
  ], report.load_tests));
}
const percentiles = [{fold: ['p50_ms', 'p99_ms'], as: ['percentile', 'ms']}];
report.load_tests.forEach((run, ri) => {
  main.append(el('h3', {}, `${run.label}: ${run.kind} on ${run.target}`));
  const box = el('div', {class: 'charts'});
  main.append(box);
  const draw = (name, spec) => {
    const id = `load-${ri}-${name}`;
    box.append(el('div', {id, class: 'chart load-chart'}));
    charts.push(vegaEmbed('#' + id, {$schema: 'https://vega.github.io/schema/vega-lite/v5.json', width: 360, height: 240, ...spec},
                          {renderer: 'svg', actions: false}));
  };
  const latency = {field: 'ms', type: 'quantitative', title: 'latency, ms'};
  const points = run.rows.filter(r => r.kind === 'point');
  if (points.length) draw('curve', {title: 'latency against throughput', data: {values: points}, transform: percentiles,
    mark: {type: 'line', point: true}, encoding: {x: {field: 'samples_per_s', type: 'quantitative', title: 'samples/s'}, y: latency,
    color: {field: 'percentile'}, tooltip: [{field: 'concurrency'}, {field: 'offered_rate'}, {field: 'samples_per_s', format: '.4g'}, {field: 'ms', format: '.4g'}]}});
  const probes = run.rows.filter(r => r.kind === 'probe');
  if (probes.length) draw('search', {title: 'the Server search: p99 at each rate probed', layer: [
    {data: {values: probes}, mark: {type: 'point', filled: true, size: 80},
     encoding: {x: {field: 'offered_rate', type: 'quantitative', title: 'queries/s offered'}, y: {field: 'p99_ms', type: 'quantitative', title: 'p99, ms'},
                color: {field: 'passes', type: 'nominal'}, tooltip: [{field: 'search_step'}, {field: 'offered_rate', format: '.4g'}, {field: 'p99_ms', format: '.4g'}, {field: 'status'}]}},
    ...(typeof run.latency_bound_ms === 'number' ? [{data: {values: [{bound: run.latency_bound_ms}]}, mark: {type: 'rule', strokeDash: [4, 4]},
                                                     encoding: {y: {field: 'bound', type: 'quantitative'}}}] : [])]});
  const timed = run.rows.filter(r => r.kind !== 'probe' && Array.isArray(r.timeline)).flatMap(r => r.timeline.map(s => ({...s,
    series: r.kind === 'point' ? (typeof r.concurrency === 'number' ? `concurrency ${r.concurrency}` : `${r.offered_rate}/s`) : r.scenario})));
  if (timed.length) draw('time', {title: 'percentiles over time', data: {values: timed}, transform: percentiles, mark: 'line',
    encoding: {x: {field: 't', type: 'quantitative', title: 's from the start'}, y: latency, color: {field: 'percentile'}, strokeDash: {field: 'series'}}});
  main.append(table([
    {title: 'kind', text: true, value: r => r.kind},
    {title: 'load', text: true, value: r => r.load},
    {title: 'concurrency', value: r => r.concurrency, show: r => fmt(r.concurrency, 0)},
    {title: 'offered/s', value: r => r.offered_rate, show: r => fmt(r.offered_rate, 2)},
    {title: 'samples/s', value: r => r.samples_per_s, show: r => fmt(r.samples_per_s, 2)},
    {title: 'p50 ms', value: r => r.p50_ms, show: r => ms(r.p50_ms)},
    {title: 'p90 ms', value: r => r.p90_ms, show: r => ms(r.p90_ms)},
    {title: 'p99 ms', value: r => r.p99_ms, show: r => ms(r.p99_ms)},
    {title: 'early-stopping p99 ms', value: r => r.early_stopping_p99_ms, show: r => ms(r.early_stopping_p99_ms)},
    {title: 'queries', value: r => r.queries},
    {title: 'errors', value: r => r.errors},
    {title: 'generator lag p99 µs', value: r => r.lag_p99_us, show: r => fmt(r.lag_p99_us, 0)},
    {title: 'status', text: true, value: r => r.status},
  ], run.rows, r => r.status === 'ok' ? '' : 'failed'));
});
Promise.all(charts).then(() => {
  document.body.dataset.charts = String(charts.length);
  // Every fetch the page made, as the browser recorded it: none is expected, everything is inline.
  document.body.dataset.resources = String(performance.getEntriesByType('resource').length);
}, e => { document.body.dataset.chartError = String(e); });
)js";

}  // namespace

std::string render_html_report(const nlohmann::json& report, const std::filesystem::path& charts) {
  const std::string vega = read_script(charts / "vega" / "build" / "vega.min.js");
  const std::string vega_lite = read_script(charts / "vega-lite" / "build" / "vega-lite.min.js");
  const std::string embed = read_script(charts / "vega-embed" / "build" / "vega-embed.min.js");
  std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  // Nothing may be fetched: the page is complete as it is. Vega compiles expressions, hence unsafe-eval.
  html += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' "
          "'unsafe-eval'; style-src 'unsafe-inline'; img-src data:\">\n";
  html += "<title>cpuinfer report</title>\n<style>" + std::string(kStyle) + "</style>\n";
  for (const std::string* lib : {&vega, &vega_lite, &embed}) html += "<script>" + script_safe(*lib, false) + "</script>\n";
  html += "</head><body><h1>cpuinfer report</h1><div id=\"main\"></div>\n";
  html += "<script id=\"report-data\" type=\"application/json\">" + script_safe(report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), true) + "</script>\n";
  html += "<script>" + script_safe(kApp, false) + "</script>\n</body></html>\n";
  return html;
}

}  // namespace cpuinfer
