// A 2026-07-28 (stateless) MCP server built on the official TypeScript SDK
// 2.x, for the upstream tests: mcpz must find its era and speak it.
//
//   node modern.mjs stdio [dual] [slow] serveStdio; modern only unless dual;
//                                      slow: reads nothing for its first 4 s
//   node modern.mjs http PORT [dual]   createMcpHandler on 127.0.0.1:PORT/mcp
//
// Its tools exercise what the era changed: input_required rounds instead
// of server requests, request-scoped progress and logs, change notices on
// subscriptions/listen streams, Mcp-* headers on HTTP.
import http from 'node:http';
import { McpServer, createMcpHandler, fromJsonSchema, inputRequired, inputResponse } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

const [transport, arg] = process.argv.slice(2);
const dual = process.argv.includes('dual');
const added = [];           // tools added by add_tool, for every instance this process builds
let handler = null;         // the HTTP handler, whose notify reaches listen streams
let lastHeaders = {};       // Mcp-* headers of the request being served (HTTP)

const object = (properties, required = []) => fromJsonSchema({ type: 'object', properties, required });
const text = value => ({ content: [{ type: 'text', text: value }] });
const form = (message, field) =>
    inputRequired.elicit({
        message,
        requestedSchema: { type: 'object', properties: { [field]: { type: 'string' } }, required: [field] }
    });

function build() {
    const server = new McpServer(
        { name: 'modern-test', version: '1.0.0' },
        { capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } } }
    );
    const changed = kind => (handler ? handler.notify[kind]() : server[`send${kind[0].toUpperCase()}${kind.slice(1, -7)}ListChanged`]());

    server.registerTool('echo', { description: 'Echoes text', inputSchema: object({ text: { type: 'string' } }, ['text']) },
        async ({ text: value }) => text(value));

    server.registerTool('slow', { description: 'Counts steps with progress', inputSchema: object({ steps: { type: 'integer' }, ms: { type: 'integer' } }) },
        async ({ steps = 3, ms = 100 }, ctx) => {
            const token = ctx.mcpReq._meta?.progressToken;
            console.error(`slow started: ${steps} steps`);
            for (let step = 1; step <= steps; step++) {
                await new Promise(resolve => setTimeout(resolve, ms));
                if (ctx.mcpReq.signal.aborted) {
                    console.error(`slow cancelled at step ${step}`);
                    throw new Error('cancelled');
                }
                if (token !== undefined)
                    await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: step, total: steps } });
            }
            return text(`counted ${steps}`);
        });

    server.registerTool('confirm', { description: 'Asks the user to confirm', inputSchema: object({ what: { type: 'string' } }, ['what']) },
        async ({ what }, ctx) => {
            const view = inputResponse(ctx.mcpReq.inputResponses, 'answer');
            if (view.kind === 'missing')
                return inputRequired({ inputRequests: { answer: form(`Confirm ${what}?`, 'answer') } });
            if (view.kind === 'elicit' && view.action !== 'accept')
                return text(`declined ${what}`);
            return text(`confirmed ${what}: ${view.content?.answer}`);
        });

    // Two rounds in sequence: what the first learned rides in requestState
    server.registerTool('wizard', { description: 'Asks a name, then a colour', inputSchema: object({}) },
        async (_args, ctx) => {
            let state = ctx.mcpReq.requestState();
            if (typeof state === 'string')
                state = JSON.parse(Buffer.from(state, 'base64url').toString());
            const mint = value => Buffer.from(JSON.stringify(value)).toString('base64url');
            const view = inputResponse(ctx.mcpReq.inputResponses, state ? 'colour' : 'name');
            if (!state && view.kind !== 'elicit')
                return inputRequired({ inputRequests: { name: form('Your name?', 'name') } });
            if (!state)
                return inputRequired({ inputRequests: { colour: form('Your colour?', 'colour') }, requestState: mint({ name: view.content.name }) });
            if (view.kind !== 'elicit')
                return inputRequired({ inputRequests: { colour: form('Your colour?', 'colour') }, requestState: mint(state) });
            return text(`${state.name} likes ${view.content.colour}`);
        });

    server.registerTool('sample', { description: 'Asks the client LLM', inputSchema: object({ question: { type: 'string' } }, ['question']) },
        async ({ question }, ctx) => {
            const view = inputResponse(ctx.mcpReq.inputResponses, 'llm');
            if (view.kind === 'missing')
                return inputRequired({ inputRequests: { llm: inputRequired.createMessage({
                    messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 50 }) } });
            return text(`the model said: ${view.result?.content?.text ?? JSON.stringify(view)}`);
        });

    server.registerTool('roots', { description: 'Lists the client roots', inputSchema: object({}) },
        async (_args, ctx) => {
            const view = inputResponse(ctx.mcpReq.inputResponses, 'roots');
            if (view.kind === 'missing')
                return inputRequired({ inputRequests: { roots: inputRequired.listRoots() } });
            return text((view.result?.roots ?? view.roots ?? []).map(root => root.uri).join(' '));
        });

    server.registerTool('log', { description: 'Logs text to the client', inputSchema: object({ text: { type: 'string' } }, ['text']) },
        async ({ text: value }, ctx) => {
            await ctx.mcpReq.log('info', value);
            return text(`logged ${value}`);
        });

    server.registerTool('whoami', { description: 'What the request carried', inputSchema: object({ region: { type: 'string', 'x-mcp-header': 'Region' } }) },
        async (_args, ctx) => text(JSON.stringify({ meta: ctx.mcpReq._meta, envelope: ctx.mcpReq.envelope, headers: lastHeaders })));

    // An annotation an HTTP client must refuse: numbers may not be headers
    server.registerTool('badheader', { description: 'Badly annotated', inputSchema: object({ n: { type: 'number', 'x-mcp-header': 'N' } }) },
        async () => text('unreachable over HTTP'));

    server.registerTool('add_tool', { description: 'Adds a tool named NAME', inputSchema: object({ name: { type: 'string' } }, ['name']) },
        async ({ name }) => {
            added.push(name);
            if (!handler)
                server.registerTool(name, { description: 'added', inputSchema: object({}) }, async () => text(`I am ${name}`));
            else
                changed('toolsChanged');
            return text(`added ${name}`);
        });

    server.registerTool('touch', { description: 'Says a resource changed', inputSchema: object({ uri: { type: 'string' } }, ['uri']) },
        async ({ uri }) => {
            if (handler)
                handler.notify.resourceUpdated(uri);
            else
                await server.server.sendResourceUpdated({ uri });
            return text(`touched ${uri}`);
        });

    for (const name of added)
        server.registerTool(name, { description: 'added', inputSchema: object({}) }, async () => text(`I am ${name}`));

    server.registerResource('note', 'note://modern/a', { description: 'A note', mimeType: 'text/plain' },
        async uri => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'modern note' }] }));

    server.registerPrompt('greet', { description: 'Greets', argsSchema: object({ who: { type: 'string' } }, ['who']) },
        async ({ who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello ${who}` } }] }));
    return server;
}

if (transport === 'stdio') {
    setTimeout(() => serveStdio(build, { legacy: dual ? 'serve' : 'reject' }), process.argv.includes('slow') ? 4000 : 0);
} else {
    handler = createMcpHandler(build, { legacy: dual ? 'stateless' : 'reject' });
    http.createServer(async (req, res) => {
        const chunks = [];
        for await (const chunk of req)
            chunks.push(chunk);
        lastHeaders = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('mcp-')));
        const abort = new AbortController();
        // A 2026 client cancels by closing the request's stream
        res.on('close', () => {
            if (!res.writableEnded) {
                const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
                console.error(`closed before the answer: ${body.method} ${body.params?.name ?? ''}`);
            }
            abort.abort();
        });
        const response = await handler.fetch(new Request(`http://127.0.0.1${req.url}`, {
            method: req.method, headers: req.headers, signal: abort.signal,
            body: req.method === 'POST' ? Buffer.concat(chunks) : undefined
        }));
        res.writeHead(response.status, Object.fromEntries(response.headers));
        try {
            if (response.body)
                for await (const chunk of response.body)
                    res.write(chunk);
        } catch {
            // the client went away
        }
        res.end();
    }).listen(Number(arg), '127.0.0.1', () => console.error(`modern-test listening on ${arg}`));
}
