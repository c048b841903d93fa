// The official TypeScript SDK client against mcpzd --conformance-fixtures
// (issue 11): node sdk_surface.mjs URL [URL...]
//
// With several URLs (the nodes of a cluster, issue 13) each HTTP request
// goes to the next one, as a round-robin balancer would send it.
//
// The client's own handlers answer mcpz's sampling, elicitation and roots
// requests; it subscribes to a resource and hears it change, lists and
// gets prompts, completes an argument, reads resources. Prints one JSON
// line per step ({"step": NAME, ...}) for test_sdk.py.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
    CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema,
    ResourceUpdatedNotificationSchema
} from '@modelcontextprotocol/sdk/types.js';

const say = (step, fields = {}) => console.log(JSON.stringify({ step, ...fields }));
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

const client = new Client({ name: 'mcpz-sdk-surface', version: '1.0.0' }, {
    capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } }
});
client.setRequestHandler(CreateMessageRequestSchema, async request => ({
    role: 'assistant', model: 'sdk-test', stopReason: 'endTurn',
    content: { type: 'text', text: 'sampled: ' + request.params.messages[0].content.text }
}));
const elicited = [];
client.setRequestHandler(ElicitRequestSchema, async request => {
    elicited.push(request.params.message);
    return { action: 'accept', content: { username: 'ann', email: 'ann@example.com' } };
});
let roots = [{ uri: 'file:///first', name: 'first' }];
client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
const updates = [];
client.setNotificationHandler(ResourceUpdatedNotificationSchema, n => updates.push(n.params.uri));

const urls = process.argv.slice(2).map(url => new URL(url));
let turn = 0;
const roundRobin = (url, init) => {
    const next = urls[turn++ % urls.length];
    const target = new URL(url);
    target.host = next.host;
    return fetch(target, init);
};
await client.connect(new StreamableHTTPClientTransport(urls[0], { fetch: roundRobin }));
say('initialize', { capabilities: client.getServerCapabilities() });

const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
say('sampling', { text: sampled.content[0].text });

const answered = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who are you?' } });
say('elicitation', { text: answered.content[0].text, asked: elicited });

const watching = client.callTool({ name: 'roots', arguments: { watch_ms: 10000 } });
await sleep(300);
roots = [{ uri: 'file:///second', name: 'second' }];
await client.sendRootsListChanged();
const listed = await watching;
say('roots', { roots: listed.structuredContent.roots });

await client.subscribeResource({ uri: 'test://watched-resource' });
await sleep(200);               // the GET stream the transport opens is up
await client.callTool({ name: 'touch', arguments: { uri: 'test://watched-resource' } });
for (let waited = 0; updates.length === 0 && waited < 5000; waited += 50)
    await sleep(50);
say('subscription', { updates });

const prompts = await client.listPrompts();
const prompt = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
say('prompts', { names: prompts.prompts.map(p => p.name), text: prompt.messages[0].content.text });

const completed = await client.complete({
    ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'pa' }
});
say('completion', { values: completed.completion.values });

const resources = await client.listResources();
const templates = await client.listResourceTemplates();
const read = await client.readResource({ uri: 'test://template/42/data' });
say('resources', { uris: resources.resources.map(r => r.uri),
                   templates: templates.resourceTemplates.map(t => t.uriTemplate),
                   text: read.contents[0].text });
await client.close();
process.exit(0);
