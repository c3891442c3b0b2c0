// Drives `atlas-host mock-llm` with the official OpenAI and Anthropic Node clients:
// non-streaming, streaming and tool calls, plus error shapes. Exits non-zero on any mismatch.
// Usage: node run.mjs /path/to/atlas-host
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const here = path.dirname(fileURLToPath(import.meta.url));
const hostBin = process.argv[2];
if (!hostBin) {
  console.error('usage: node run.mjs /path/to/atlas-host');
  process.exit(2);
}

function startMock() {
  return new Promise((resolve, reject) => {
    const child = spawn(hostBin, ['mock-llm', '--scenario', path.join(here, 'scenario.json'), '--port', '0'],
                        { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('mock-llm did not print its port within 20 s')), 20000);
    child.on('exit', (code) => reject(new Error(`mock-llm exited early with code ${code}`)));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather',
  parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
};

async function openaiChecks(url) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-a-real-key', maxRetries: 2 });
  // Non-streaming text.
  const r1 = await client.chat.completions.create({
    model: 'gpt-mock', messages: [{ role: 'system', content: 'terse' }, { role: 'user', content: 'np-text' }] });
  assert.equal(r1.choices[0].message.content, 'Hello from mock-llm, all good.');
  assert.equal(r1.choices[0].finish_reason, 'stop');
  assert.equal(r1.usage.total_tokens, 19);
  // Non-streaming tool call.
  const r2 = await client.chat.completions.create({
    model: 'gpt-mock', messages: [{ role: 'user', content: 'np-tool' }],
    tools: [{ type: 'function', function: weatherTool }] });
  const call = r2.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
  assert.equal(r2.choices[0].finish_reason, 'tool_calls');
  // Streaming text with the usage chunk.
  const s1 = await client.chat.completions.create({
    model: 'gpt-mock', messages: [{ role: 'user', content: 'np-text' }], stream: true,
    stream_options: { include_usage: true } });
  let text = '', usage = null;
  for await (const chunk of s1) {
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'Hello from mock-llm, all good.');
  assert.equal(usage.prompt_tokens, 12);
  // Streaming tool call through the SDK's accumulating helper.
  const s2 = client.chat.completions.stream({
    model: 'gpt-mock', messages: [{ role: 'user', content: 'np-tool' }],
    tools: [{ type: 'function', function: weatherTool }] });
  const final = await s2.finalChatCompletion();
  const scall = final.choices[0].message.tool_calls[0];
  assert.equal(scall.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(scall.function.arguments), { city: 'Paris', unit: 'c' });
  // JSON mode.
  const r3 = await client.chat.completions.create({
    model: 'gpt-mock', messages: [{ role: 'user', content: 'np-json' }], response_format: { type: 'json_object' } });
  assert.equal(JSON.parse(r3.choices[0].message.content).score, 0.75);
  // 429 with retry-after: the SDK retries and succeeds.
  const r4 = await client.chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'np-rate' }] });
  assert.equal(r4.choices[0].message.content, 'after the rate limit');
  // 400: the SDK raises BadRequestError with our message.
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'np-bad' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /max_tokens: must be positive/.test(e.message));
  // Mid-stream error: the SDK's stream iterator throws.
  await assert.rejects(async () => {
    const s = await client.chat.completions.create({
      model: 'gpt-mock', messages: [{ role: 'user', content: 'np-midstream' }], stream: true });
    for await (const _ of s) { /* consume */ }
  }, /Overloaded/);
  console.log('openai: ok (non-streaming, streaming, tool calls, json, 429 retry, 400, mid-stream error)');
}

async function anthropicChecks(url) {
  const client = new Anthropic({ baseURL: url, apiKey: 'not-a-real-key', maxRetries: 2 });
  const tools = [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.parameters }];
  // Non-streaming text.
  const m1 = await client.messages.create({
    model: 'claude-mock', max_tokens: 100, system: 'terse', messages: [{ role: 'user', content: 'np-text' }] });
  assert.equal(m1.content[0].type, 'text');
  assert.equal(m1.content[0].text, 'Hello from mock-llm, all good.');
  assert.equal(m1.stop_reason, 'end_turn');
  assert.equal(m1.usage.input_tokens, 12);
  // Non-streaming tool use.
  const m2 = await client.messages.create({
    model: 'claude-mock', max_tokens: 100, tools, messages: [{ role: 'user', content: 'np-tool' }] });
  const use = m2.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { city: 'Paris', unit: 'c' });
  assert.equal(m2.stop_reason, 'tool_use');
  // Streaming text via the SDK's accumulating helper.
  const st1 = client.messages.stream({
    model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'np-text' }] });
  let deltas = '';
  st1.on('text', (t) => { deltas += t; });
  const f1 = await st1.finalMessage();
  assert.equal(deltas, 'Hello from mock-llm, all good.');
  assert.equal(f1.content[0].text, 'Hello from mock-llm, all good.');
  assert.equal(f1.usage.output_tokens, 7);
  // Streaming tool use (input_json_delta fragments).
  const st2 = client.messages.stream({
    model: 'claude-mock', max_tokens: 100, tools, messages: [{ role: 'user', content: 'np-tool' }] });
  const f2 = await st2.finalMessage();
  const suse = f2.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(suse.input, { city: 'Paris', unit: 'c' });
  assert.equal(f2.stop_reason, 'tool_use');
  // Raw stream events.
  const raw = await client.messages.create({
    model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'np-text' }], stream: true });
  const types = [];
  for await (const ev of raw) types.push(ev.type);
  assert.equal(types[0], 'message_start');
  assert.equal(types[types.length - 1], 'message_stop');
  // 429 then success; 400 as BadRequestError; mid-stream error event raises.
  const m3 = await client.messages.create({
    model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'np-rate' }] });
  assert.equal(m3.content[0].text, 'after the rate limit');
  await assert.rejects(
    client.messages.create({ model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'np-bad' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /max_tokens: must be positive/.test(e.message));
  await assert.rejects(
    client.messages.stream({ model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'np-midstream' }] })
      .finalMessage(),
    /Overloaded/);
  console.log('anthropic: ok (non-streaming, streaming, tool use, raw events, 429 retry, 400, mid-stream error)');
}

const { child, url } = await startMock();
let failed = false;
try {
  await openaiChecks(url);
  await anthropicChecks(url);
} catch (e) {
  failed = true;
  console.error('FAILED:', e);
} finally {
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) {
    console.error(`mock-llm exited with ${code} on SIGTERM`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
