// The official TypeScript SDK's stateful Streamable HTTP server with the
// same echo tool as mcpz: what users pick today, measured beside mcpz by
// bench/run. node sdk_server.mjs PORT
//
// McpServer + StreamableHTTPServerTransport (one per session, JSON
// responses) behind express, as the SDK's own examples set it up.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

const transports = new Map();

function newServer() {
    const server = new McpServer({ name: 'sdk-echo', version: '1.0.0' });
    server.registerTool('echo', { description: 'Answers with the text it is given.',
                                  inputSchema: { text: z.string() } },
                        async ({ text }) => ({ content: [{ type: 'text', text }] }));
    return server;
}

const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/mcp', async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = sessionId && transports.get(sessionId);
    if (!transport) {
        if (sessionId || !isInitializeRequest(req.body)) {
            res.status(sessionId ? 404 : 400).json({ jsonrpc: '2.0', id: null,
                                                     error: { code: -32000, message: 'no session' } });
            return;
        }
        transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            enableJsonResponse: true,
            onsessioninitialized: id => transports.set(id, transport)
        });
        transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
        await newServer().connect(transport);
    }
    await transport.handleRequest(req, res, req.body);
});
app.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
