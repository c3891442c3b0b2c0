// Official clients and a LangChain.js agent, unchanged except for their base URL, through
// `atlas-host serve` with mock-llm upstream. Each episode must come out as one stored, judged
// session; the agent's episode is then approved and exported with the real CLI.
// Usage: node run.mjs /path/to/atlas-host
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { ChatOpenAI } from '@langchain/openai';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { z } from 'zod';

// Long enough that every provider's mock stream splits it into several pieces.
const GREETING = 'Hello from the upstream model, streamed back to the client in pieces.';

const hostBin = process.argv[2];
if (!hostBin) {
  console.error('usage: node run.mjs /path/to/atlas-host');
  process.exit(2);
}
const work = mkdtempSync(path.join(tmpdir(), 'atlas-serve-npm-'));
const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

// Starts a child that prints "listening on URL" and resolves with the URL.
function startListening(args, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(hostBin, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env } });
    children.push(child);
    const timer = setTimeout(() => reject(new Error(`${name} did not print its URL within 60 s`)), 60000);
    child.on('exit', (code) => reject(new Error(`${name} exited early with code ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

const scenario = {
  default: 'echo',
  rules: [
    { name: 'judge', match: { system_contains: 'impartial evaluator' },
      response: { json: { score: 0.85, uncertainty: 0.1, rationale: 'used the tools correctly', principles: [] } } },
    { name: 'arbiter', match: { system_contains: 'senior arbiter' },
      response: { json: { score: 0.85, uncertainty: 0.1, rationale: 'ok', principles: [] } } },
    { name: 'learning', match: { system_contains: 'You maintain the playbook' },
      response: { json: { student_pamphlet: 'Convert units before answering.', playbook_entries: [] } } },
    // The Responses API tool round trip: function_call, then the answer once the output is in.
    { name: 'responses-answer', match: { wire: 'openai.responses', has_tools: true, last_message_contains: '21C' },
      response: { text: 'It is 21C in Rome.' } },
    // A conversation continued by previous_response_id: only the whole conversation says the name.
    { name: 'responses-remember', match: { wire: 'openai.responses', any_contains: 'My name is Ada', last_message_contains: 'my name?' },
      response: { text: 'Your name is Ada.' } },
    { name: 'responses-call', match: { wire: 'openai.responses', has_tools: true },
      response: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Rome' } }] } },
    // The agent: look up the weather, then convert, then answer.
    { name: 'agent-answer', match: { has_tools: true, last_message_contains: '64.4' },
      response: { text: 'Paris is 18C, which is 64.4F.' } },
    { name: 'agent-convert', match: { has_tools: true, last_message_contains: '18' },
      response: { tool_calls: [{ name: 'celsius_to_fahrenheit', arguments: { celsius: 18 } }] } },
    { name: 'agent-lookup', match: { has_tools: true, last_user_contains: 'Fahrenheit' },
      response: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } },
    { name: 'tool', match: { has_tools: true }, response: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] } },
    { name: 'text', match: { last_user_contains: 'hello' }, response: { text: GREETING, usage: { prompt_tokens: 12, completion_tokens: 4 } } },
  ],
};
writeFileSync(path.join(work, 'scenario.json'), JSON.stringify(scenario));
const mock = await startListening(['mock-llm', '--scenario', path.join(work, 'scenario.json'), '--port', '0'], 'mock-llm');

const model = (section, provider, base) =>
  `[${section}]\nprovider = "${provider}"\nmodel = "mock-model"\napi_key_env = "ATLAS_SERVE_TEST_UNSET"\napi_base = "${base}"\n\n`;
const config = path.join(work, 'atlas.toml');
writeFileSync(config,
  '[agent]\nadapter = "openai"\nname = "npm-agents"\n\n' +
  model('student.llm', 'openai', `${mock.url}/v1`) + model('teacher.llm', 'openai', `${mock.url}/v1`) +
  model('rewards.small_model', 'openai', `${mock.url}/v1`) + model('rewards.large_model', 'openai', `${mock.url}/v1`) +
  model('learning.llm', 'openai', `${mock.url}/v1`) +
  model('serve.anthropic', 'anthropic', mock.url) + model('serve.gemini', 'gemini', mock.url) +
  '[orchestration]\nforced_mode = "auto"\n\n' +
  `[storage]\ndatabase_url = "sqlite://${path.join(work, 'atlas.db')}"\nspool_path = "${path.join(work, 'spool.jsonl')}"\n`);
const gw = await startListening(['serve', '-c', config, '--listen', '127.0.0.1:0', '--no-preflight'], 'atlas-host serve');

async function endEpisode(id, body = {}) {
  const r = await fetch(`${gw.url}/atlas/v1/sessions/${id}/end?wait=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  const out = JSON.parse(text);
  assert.equal(out.report.status, 'succeeded', JSON.stringify(out.report));
  assert.equal(out.report.stored, true);
  return out.report;
}

// ---- OpenAI: chat (plain, streaming, tools), episode by header.
const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-Atlas-Session': 'oa-1' } });
const c1 = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
assert.equal(c1.choices[0].message.content, GREETING);
const stream = await openai.chat.completions.create({
  model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello' }] });
let streamed = '';
let deltas = 0;
for await (const chunk of stream) {
  const d = chunk.choices[0]?.delta?.content;
  if (d) { streamed += d; deltas += 1; }
}
assert.equal(streamed, GREETING);
assert.ok(deltas > 1, 'the stream arrives in pieces');
const withTools = await openai.chat.completions.create({
  model: 'gpt-4o', messages: [{ role: 'user', content: 'weather?' }],
  tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }] });
assert.equal(withTools.choices[0].message.tool_calls[0].function.name, 'get_weather');
const oaReport = await endEpisode('oa-1', { success: true });
assert.equal(oaReport.steps.length, 3);

// ---- OpenAI Responses API: create, create with stream: true, the stream helper; episode by header.
const rs = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-Atlas-Session': 'rs-1' } });
const r1 = await rs.responses.create({ model: 'gpt-4.1', instructions: 'You are terse.', input: 'hello' });
assert.equal(r1.output_text, GREETING);
assert.equal(r1.usage.total_tokens, 16);
const rstream = await rs.responses.create({ model: 'gpt-4.1', input: 'hello', stream: true });
let rtext = '';
let rdeltas = 0;
let completed = null;
for await (const event of rstream) {
  if (event.type === 'response.output_text.delta') { rtext += event.delta; rdeltas += 1; }
  if (event.type === 'response.completed') completed = event.response;
}
assert.equal(rtext, GREETING);
assert.ok(rdeltas > 1, 'the Responses stream arrives in pieces');
assert.equal(completed?.status, 'completed');
const helper = rs.responses.stream({ model: 'gpt-4.1', input: [{ role: 'user', content: 'hello' }] });
assert.equal((await helper.finalResponse()).output_text, GREETING);
assert.equal((await endEpisode('rs-1')).steps.length, 3);

// ---- Responses API tool round trip (function_call -> function_call_output -> answer), episode by path.
const rsTools = new OpenAI({ baseURL: `${gw.url}/s/rs-tools/v1`, apiKey: 'unused' });
const weatherTool = [{ type: 'function', name: 'get_weather', description: 'Current weather in a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
const question = [{ role: 'user', content: 'Weather in Rome?' }];
const t1 = await rsTools.responses.create({ model: 'gpt-4.1', instructions: 'You are terse.', input: question, tools: weatherTool });
const fnCall = t1.output.find((item) => item.type === 'function_call');
assert.ok(fnCall, JSON.stringify(t1.output));
assert.equal(fnCall.name, 'get_weather');
assert.deepEqual(JSON.parse(fnCall.arguments), { city: 'Rome' });
const t2 = await rsTools.responses.create({ model: 'gpt-4.1', instructions: 'You are terse.', tools: weatherTool,
  input: [...question, fnCall, { type: 'function_call_output', call_id: fnCall.call_id, output: '21C' }] });
assert.equal(t2.output_text, 'It is 21C in Rome.');
const rsToolsReport = await endEpisode('rs-tools', { success: true });
assert.equal(rsToolsReport.steps.length, 2, JSON.stringify(rsToolsReport.steps));
assert.equal(rsToolsReport.final_answer, 'It is 21C in Rome.');

// ---- Responses API conversation continued by previous_response_id, no episode header: the
// gateway joins every turn to the first call's episode and records the earlier turns with each.
const rc = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
const turn1 = await rc.responses.create({ model: 'gpt-4.1', instructions: 'You are terse.', input: 'My name is Ada.' }).withResponse();
const chainEpisode = turn1.response.headers.get('x-atlas-session');
assert.ok(chainEpisode, 'a new episode id comes back');
const turn2 = await rc.responses.create({ model: 'gpt-4.1', instructions: 'You are terse.', input: 'What is my name?',
  previous_response_id: turn1.data.id }).withResponse();
assert.equal(turn2.response.headers.get('x-atlas-session'), chainEpisode, 'the continuation joins the episode');
assert.equal(turn2.data.output_text, 'Your name is Ada.', 'mock-llm continued the conversation it stored');
let turn3Text = '';
for await (const event of await rc.responses.create({ model: 'gpt-4.1', input: 'hello', stream: true,
  previous_response_id: turn2.data.id })) if (event.type === 'response.output_text.delta') turn3Text += event.delta;
assert.equal(turn3Text, GREETING);
const chainReport = await endEpisode(chainEpisode, { success: true });
assert.equal(chainReport.steps.length, 3, JSON.stringify(chainReport.steps));

// ---- Anthropic, episode by path prefix.
const anthropic = new Anthropic({ baseURL: `${gw.url}/s/an-1`, apiKey: 'unused' });
const m1 = await anthropic.messages.create({ model: 'claude-x', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
assert.equal(m1.content[0].text, GREETING);
const ms = anthropic.messages.stream({ model: 'claude-x', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
const final = await ms.finalMessage();
assert.equal(final.content[0].text, GREETING);
assert.equal((await endEpisode('an-1')).steps.length, 2);

// ---- Gemini, episode by path prefix.
const genai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${gw.url}/s/ge-1` } });
const g1 = await genai.models.generateContent({ model: 'gemini-x', contents: 'hello' });
assert.equal(g1.text, GREETING);
let gtext = '';
for await (const chunk of await genai.models.generateContentStream({ model: 'gemini-x', contents: 'hello' })) gtext += chunk.text ?? '';
assert.equal(gtext, GREETING);
assert.equal((await endEpisode('ge-1')).steps.length, 2);

// ---- A LangChain.js agent with two tools: its whole episode is one session.
const toolRuns = [];
const getWeather = tool(async ({ city }) => { toolRuns.push(['get_weather', city]); return `${city}: 18 C, cloudy`; },
  { name: 'get_weather', description: 'Current weather in a city', schema: z.object({ city: z.string() }) });
const toFahrenheit = tool(async ({ celsius }) => { toolRuns.push(['celsius_to_fahrenheit', celsius]); return String(celsius * 9 / 5 + 32); },
  { name: 'celsius_to_fahrenheit', description: 'Convert Celsius to Fahrenheit', schema: z.object({ celsius: z.number() }) });
const llm = new ChatOpenAI({ model: 'gpt-4o', apiKey: 'unused', temperature: 0,
  configuration: { baseURL: `${gw.url}/v1`, defaultHeaders: { 'X-Atlas-Session': 'lc-agent-1' } } });
const agent = createAgent({ model: llm, tools: [getWeather, toFahrenheit] });
const result = await agent.invoke({ messages: [{ role: 'user', content: 'What is the temperature in Paris in Fahrenheit?' }] });
const last = result.messages[result.messages.length - 1];
assert.equal(last.content, 'Paris is 18C, which is 64.4F.');
assert.deepEqual(toolRuns, [['get_weather', 'Paris'], ['celsius_to_fahrenheit', 18]]);
const agentReport = await endEpisode('lc-agent-1', { success: true, feedback: { metrics: { correct: true } } });
assert.equal(agentReport.steps.length, 3, JSON.stringify(agentReport.steps));
assert.equal(agentReport.final_answer, 'Paris is 18C, which is 64.4F.');
assert.equal(typeof agentReport.reward, 'number', 'the judges scored the episode');
const sid = agentReport.session_id;

// ---- Review and export with the real CLI: the agent's session, with both tool calls and results.
const cli = (...args) => execFileSync(hostBin, args, { encoding: 'utf8', env: { ...process.env } });
cli('review', 'approve', sid, '-c', config, '--reason', 'checked by the npm test', '--actor', 'npm-test');
const exported = path.join(work, 'export.jsonl');
cli('export', '-c', config, '--format', 'atlas-jsonl', '--output', exported);
const rows = readFileSync(exported, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
assert.equal(rows.length, 1, 'only the approved session is exported');
const text = JSON.stringify(rows[0]);
for (const needle of ['get_weather', 'celsius_to_fahrenheit', '18 C, cloudy', '64.4', 'lc-agent-1'])
  assert.ok(text.includes(needle), `the export carries ${needle}`);

// ---- SIGTERM drains and exits 0.
gw.child.removeAllListeners('exit');  // drop startListening's "exited early" handler first
const exited = new Promise((resolve) => gw.child.once('exit', (code) => resolve(code)));
gw.child.kill('SIGTERM');
assert.equal(await exited, 0, 'serve exits 0 after a clean drain');
console.log('serve npm clients: openai (chat, stream, tools; responses, stream, tool round trip), anthropic (messages, stream), genai (generate, stream), ' +
            'LangChain.js createAgent (2 tools, 3 calls) -> stored, judged, approved, exported');
mock.child.removeAllListeners('exit');
mock.child.kill('SIGTERM');
