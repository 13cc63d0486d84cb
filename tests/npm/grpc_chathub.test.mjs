// aihub.ChatHub from Node with @grpc/grpc-js + @grpc/proto-loader, loading proto/chathub.proto as
// a web/Node backend of the AIHub clients would. Started by run_grpc_client_test.sh, which sets
// SHUO_GRPC_ADDRESS (host:port of `shuo serve --grpc-port 0` with stories260K).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const protoPath = fileURLToPath(new URL('../../proto/chathub.proto', import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const { aihub } = grpc.loadPackageDefinition(definition);
const client = new aihub.ChatHub(process.env.SHUO_GRPC_ADDRESS, grpc.credentials.createInsecure());
after(() => client.close());

const deadline = () => ({ deadline: Date.now() + 60_000 });

function chat(request) {
  return new Promise((resolve, reject) => {
    client.Chat(request, deadline(), (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// Every ChatReply of a StreamingChat call, in order.
function streamingChat(request) {
  return new Promise((resolve, reject) => {
    const replies = [];
    const call = client.StreamingChat(request, deadline());
    call.on('data', (reply) => replies.push(reply.response));
    call.on('error', reject);
    call.on('end', () => resolve(replies));
  });
}

// The proto has no "greedy": 0 means the server default, so a tiny top_p keeps only the most
// likely token.
const greedy = { top_p: 1e-6, temperature: 1e-6 };

test('Chat with the settings the AIHub C# client sends', async () => {
  const reply = await chat({
    prompt: 'Once upon a time',
    history: [
      { role: 'user', content: 'Tell me a story.' },
      { role: 'assistant', content: 'Gladly.' },
    ],
    max_length: 2048, // more than stories260K's context: capped, not refused
    top_p: 0.75,
    temperature: 0.95,
  });
  assert.equal(typeof reply.response, 'string');
  assert.ok(reply.response.length > 0);
});

test('StreamingChat sends the whole reply so far, ending with what Chat answers', async () => {
  const request = { prompt: 'One day, Tom went to the park', max_length: 100, ...greedy };
  const whole = await chat(request);
  const replies = await streamingChat(request);
  assert.ok(replies.length >= 2, `only ${replies.length} replies`);
  for (let i = 1; i < replies.length; i++) {
    assert.ok(replies[i].startsWith(replies[i - 1]), `reply ${i} does not extend reply ${i - 1}`);
    assert.ok(replies[i].length > replies[i - 1].length);
  }
  assert.equal(replies.at(-1), whole.response);
});

test('fields left out take the server defaults', async () => {
  const reply = await chat({ prompt: 'The cat' });
  assert.ok(reply.response.length > 0);
});

test('a bad role is INVALID_ARGUMENT naming the field', async () => {
  await assert.rejects(chat({ prompt: 'Hi', history: [{ role: 'robot', content: 'beep' }] }), (err) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err.details, /^history\[0\]\.role: /);
    return true;
  });
  await assert.rejects(streamingChat({ prompt: '' }), (err) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, 'prompt: must not be empty');
    return true;
  });
});

test('cancelling a stream ends it with CANCELLED', async () => {
  const call = client.StreamingChat({ prompt: 'Once upon a time', ...greedy }, deadline());
  const outcome = new Promise((resolve) => {
    call.on('error', (err) => resolve(err.code));
    call.on('end', () => resolve('end'));
  });
  call.once('data', () => call.cancel());
  assert.equal(await outcome, grpc.status.CANCELLED);
});
