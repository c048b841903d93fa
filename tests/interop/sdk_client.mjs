// The official TypeScript SDK client (Client + StreamableHTTPClientTransport)
// against a running mcpzd: node sdk_client.mjs URL
//
// Prints one JSON line per step ({"step": NAME, ...}); test_sdk.py reads
// them. Between "cut" and its own line on stdin, the test restarts mcpzd:
// the GET stream the transport keeps open is cut, and must come back.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createInterface } from 'node:readline';

const url = new URL(process.argv[2]);
const say = (step, fields = {}) => console.log(JSON.stringify({ step, ...fields }));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

const transport = new StreamableHTTPClientTransport(url, {
    reconnectionOptions: {
        initialReconnectionDelay: 100, maxReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5, maxRetries: 40
    }
});
const errors = [];
const client = new Client({ name: 'mcpz-sdk-test', version: '1.0.0' });
client.onerror = error => errors.push(String(error));
await client.connect(transport);
say('initialize', { sessionId: transport.sessionId, server: client.getServerVersion(),
                    version: transport.protocolVersion });

const tools = await client.listTools();
say('tools/list', { names: tools.tools.map(tool => tool.name) });

const echo = await client.callTool({ name: 'echo', arguments: { text: 'hello sdk' } });
say('echo', { text: echo.content[0].text });

const progress = [];
const stepped = await client.callTool({ name: 'progress', arguments: { steps: 4, interval_ms: 20 } },
                                      undefined, { onprogress: p => progress.push(p.progress) });
say('progress', { progress, text: stepped.content[0].text });

const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, n => logs.push(n.params));
await client.setLoggingLevel('debug');
await client.callTool({ name: 'sleep', arguments: { ms: 5 } });
say('logging', { logs });

const controller = new AbortController();
const started = Date.now();
const cancelled = client.callTool({ name: 'sleep', arguments: { ms: 5000 } }, undefined,
                                  { signal: controller.signal })
    .then(() => 'answered', error => String(error));
setTimeout(() => controller.abort('enough'), 200);
say('cancel', { outcome: await cancelled, ms: Date.now() - started });

say('cut', { sessionId: transport.sessionId });
await lines.next();                    // the server was restarted meanwhile
const afterCut = await client.callTool({ name: 'echo', arguments: { text: 'after restart' } });
await sleep(300);                      // the GET stream comes back on its own
say('after-cut', { text: afterCut.content[0].text });
await lines.next();                    // the test looked at the server's streams

const sessionId = transport.sessionId;
await transport.terminateSession();
say('deleted', { sessionId: transport.sessionId ?? null });
// The session is gone: the next request naming it gets 404
const afterDelete = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
               'mcp-session-id': sessionId, 'mcp-protocol-version': transport.protocolVersion },
    body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' })
});
say('after-delete', { status: afterDelete.status, errors });
await client.close();
process.exit(0);
