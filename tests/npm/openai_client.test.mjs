// The official `openai` npm client against a running `shuo serve` (stories260K): what a JS user
// of the OpenAI SDK does must work unchanged. Started by run_openai_client_test.sh, which sets
// SHUO_BASE_URL (…/v1) and SHUO_TESTDATA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const baseURL = process.env.SHUO_BASE_URL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const reference = JSON.parse(readFileSync(`${process.env.SHUO_TESTDATA}/stories260K/reference.json`, 'utf8'));
const onceUpon = reference.cases.find((c) => c.name === 'once_upon');

test('models.list shows the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['stories260K']);
});

test('completions.create, greedy, matches the reference text', async () => {
  const r = await client.completions.create({
    model: 'stories260K', prompt: 'Once upon a time', max_tokens: 64, temperature: 0,
  });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, onceUpon.gen_text);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 64);
});

test('chat.completions.create, whole and streamed, agree for a seed', async () => {
  const params = {
    model: 'stories260K',
    messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Once upon a time' }],
    max_tokens: 32, temperature: 0.8, seed: 42,
  };
  const whole = await client.chat.completions.create(params);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(typeof whole.choices[0].message.content, 'string');
  assert.ok(whole.usage.total_tokens > whole.usage.prompt_tokens);

  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let role = null;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test('embeddings.create returns unit vectors (the SDK asks for base64)', async () => {
  const r = await client.embeddings.create({ model: 'stories260K', input: ['Once upon a time', 'The cat'] });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    assert.equal(d.embedding.length, 64);
    const norm = Math.sqrt(d.embedding.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  const floats = await client.embeddings.create({ input: 'Once upon a time', encoding_format: 'float' });
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(floats.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
});

test('errors arrive as the SDK error classes', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
  );
  await assert.rejects(
    client.completions.create({ model: 'stories260K', prompt: 'hi', temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
  );
});
