"""The whole MCP server surface of 2025-11-25 (issue 11) on both fronts:
resources (paging, read, templates, subscriptions and their updates),
prompts, completion, tool metadata, and requests from tools to the client
(sampling, elicitation, roots) with their answers, refusals, cancellation
and deadlines. Every error row is checked over MCPZ/1 and over HTTP."""

import json
import time
import unittest

from httptest import Http, http_port, read_event, start_http_class_server
from mcpztest import LATEST, ServerTestCase, control, idkey, init_params, text_of

ALL_CAPABILITIES = {"sampling": {}, "elicitation": {}, "roots": {"listChanged": True}}


class ZmqFront:
    """A session over MCPZ/1; rpc() returns the JSON-RPC answer."""

    name = "zmq"

    def __init__(self, case, server, capabilities=None, version=LATEST):
        self.case, self.c = case, case.client(server)
        params = init_params(version)
        params["capabilities"] = capabilities or {}
        m = self.c.initialize(version, params=params)
        self.init = m.json["result"]
        self.sid = m.sid
        self.c.notify(self.sid, "notifications/initialized")

    def rpc(self, method, params=None):
        return self.c.rpc(self.sid, method, params).json


class HttpFront:
    """A session over Streamable HTTP; rpc() returns the JSON-RPC answer."""

    name = "http"

    def __init__(self, case, server, capabilities=None, version=LATEST):
        self.h = Http(server.http_port)
        case.addCleanup(self.h.close)
        params = init_params(version)
        params["capabilities"] = capabilities or {}
        answer = self.h.request("initialize", params)
        case.assertEqual(answer.status, 200, answer)
        self.init = answer.json["result"]
        self.h.sid, self.h.version = answer.header("Mcp-Session-Id"), version
        self.sid = self.h.sid
        case.assertEqual(self.h.notify("notifications/initialized").status, 202)

    def rpc(self, method, params=None):
        answer = self.h.request(method, params)
        self.answer = answer
        return answer.messages[-1]


FRONTS = (ZmqFront, HttpFront)


class Surface(ServerTestCase):
    """Fixtures and demo tools, three items a page."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls, "--conformance-fixtures", "--page-size", "3")

    def each_front(self, test, capabilities=None, version=LATEST):
        for front in FRONTS:
            with self.subTest(front=front.name):
                test(front(self, self.server, capabilities, version))

    def assertError(self, answer, code, *words):
        self.assertIn("error", answer, answer)
        self.assertEqual(answer["error"]["code"], code, answer)
        for word in words:
            self.assertIn(word, answer["error"]["message"], answer)

    # -- lists and paging ---------------------------------------------------

    def walk(self, session, method, key):
        items, cursor, pages = [], None, 0
        while True:
            answer = session.rpc(method, {"cursor": cursor} if cursor else {})
            result = answer["result"]
            pages += 1
            self.assertLessEqual(len(result[key]), 3)
            items += result[key]
            cursor = result.get("nextCursor")
            if cursor is None:
                return items, pages
            self.assertIsInstance(cursor, str)

    def test_lists_page_by_page(self):
        def check(session):
            tools, pages = self.walk(session, "tools/list", "tools")
            names = [tool["name"] for tool in tools]
            self.assertEqual(len(names), len(set(names)))
            self.assertEqual(len(names), 21)
            self.assertEqual(pages, 7)
            self.assertIn("test_simple_text", names)
            self.assertIn("roots", names)
            resources, pages = self.walk(session, "resources/list", "resources")
            self.assertEqual(sorted(r["uri"] for r in resources),
                             ["test://static-binary", "test://static-text", "test://watched-resource"])
            self.assertEqual(pages, 1)
            prompts, pages = self.walk(session, "prompts/list", "prompts")
            self.assertEqual(len(prompts), 4)
            self.assertEqual(pages, 2)
            with_arguments = [p for p in prompts if p["name"] == "test_prompt_with_arguments"][0]
            self.assertEqual([(a["name"], a["required"]) for a in with_arguments["arguments"]],
                             [("arg1", True), ("arg2", True)])
            templates, _ = self.walk(session, "resources/templates/list", "resourceTemplates")
            self.assertEqual(templates[0]["uriTemplate"], "test://template/{id}/data")
            self.assertEqual(templates[0]["mimeType"], "application/json")
        self.each_front(check)

    def test_bad_cursors(self):
        def check(session):
            self.assertIn("tools", session.rpc("tools/list", {"cursor": None})["result"])
            for method in ("tools/list", "resources/list", "resources/templates/list", "prompts/list"):
                for cursor in ("garbage", "mcpz-page-99", "mcpz-page-0", "", 5, {"a": 1}):
                    self.assertError(session.rpc(method, {"cursor": cursor}), -32602, "cursor")
        self.each_front(check)

    # -- tool metadata -------------------------------------------------------

    def test_tool_metadata(self):
        def check(session):
            tools, _ = self.walk(session, "tools/list", "tools")
            by_name = {tool["name"]: tool for tool in tools}
            add = by_name["add"]
            self.assertEqual(add["title"], "Add")
            self.assertEqual(add["annotations"], {"readOnlyHint": True, "idempotentHint": True,
                                                  "openWorldHint": False})
            self.assertEqual(add["outputSchema"]["required"], ["sum"])
            self.assertNotIn("annotations", by_name["echo"])
            schema = by_name["json_schema_2020_12_tool"]["inputSchema"]
            self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
            self.assertIs(schema["additionalProperties"], False)
            self.assertIn("address", schema["$defs"])
            result = session.rpc("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})["result"]
            self.assertEqual(result["structuredContent"], {"sum": 5})
        self.each_front(check)

    def test_content_types(self):
        def check(session):
            def content(name):
                return session.rpc("tools/call", {"name": name, "arguments": {}})["result"]["content"]
            self.assertEqual(content("test_image_content")[0]["mimeType"], "image/png")
            self.assertEqual(content("test_audio_content")[0]["type"], "audio")
            embedded = content("test_embedded_resource")[0]
            self.assertEqual(embedded["resource"]["uri"], "test://embedded-resource")
            self.assertEqual([block["type"] for block in content("test_multiple_content_types")],
                             ["text", "image", "resource"])
            failed = session.rpc("tools/call", {"name": "test_error_handling"})["result"]
            self.assertIs(failed["isError"], True)
        self.each_front(check)

    # -- resources -------------------------------------------------------------

    def test_read(self):
        def check(session):
            text = session.rpc("resources/read", {"uri": "test://static-text"})["result"]["contents"]
            self.assertEqual(text, [{"uri": "test://static-text", "mimeType": "text/plain",
                                     "text": "This is the content of the static text resource."}])
            blob = session.rpc("resources/read", {"uri": "test://static-binary"})["result"]["contents"][0]
            self.assertEqual(blob["mimeType"], "image/png")
            self.assertTrue(blob["blob"].startswith("iVBOR"))
            templated = session.rpc("resources/read", {"uri": "test://template/abc/data"})["result"]
            contents = templated["contents"][0]
            self.assertEqual(contents["uri"], "test://template/abc/data")
            self.assertEqual(json.loads(contents["text"]),
                             {"id": "abc", "templateTest": True, "data": "Data for ID: abc"})
        self.each_front(check)

    def test_read_errors(self):
        def check(session):
            for uri in ("test://nothing", "test://template//data", "test://template/a/b/data",
                        "test://static-text/", "x" * 5000):
                self.assertError(session.rpc("resources/read", {"uri": uri}), -32002, "not found")
            for params in (None, {}, {"uri": 5}, {"uri": None}, []):
                self.assertError(session.rpc("resources/read", params), -32602)
        self.each_front(check)

    def test_subscribe_errors(self):
        def check(session):
            for method in ("resources/subscribe", "resources/unsubscribe"):
                self.assertError(session.rpc(method, {"uri": "test://nothing"}), -32002)
                self.assertError(session.rpc(method, {}), -32602)
                self.assertError(session.rpc(method, {"uri": 1}), -32602)
            self.assertEqual(session.rpc("resources/subscribe", {"uri": "test://static-text"})["result"], {})
            self.assertEqual(session.rpc("resources/subscribe", {"uri": "test://template/1/data"})["result"], {})
            self.assertEqual(session.rpc("resources/unsubscribe", {"uri": "test://static-text"})["result"], {})
            #  Unsubscribing what is not subscribed is no error
            self.assertEqual(session.rpc("resources/unsubscribe", {"uri": "test://static-text"})["result"], {})
        self.each_front(check)

    # -- prompts and completion ----------------------------------------------------

    def test_prompts(self):
        def check(session):
            simple = session.rpc("prompts/get", {"name": "test_simple_prompt"})["result"]
            self.assertEqual(simple["messages"][0]["content"]["text"], "This is a simple prompt for testing.")
            filled = session.rpc("prompts/get", {"name": "test_prompt_with_arguments",
                                                 "arguments": {"arg1": "hello", "arg2": "world"}})["result"]
            self.assertEqual(filled["messages"][0]["content"]["text"],
                             "Prompt with arguments: arg1='hello', arg2='world'")
            embedded = session.rpc("prompts/get", {"name": "test_prompt_with_embedded_resource",
                                                   "arguments": {"resourceUri": "test://r"}})["result"]
            self.assertEqual(embedded["messages"][0]["content"]["resource"]["uri"], "test://r")
            image = session.rpc("prompts/get", {"name": "test_prompt_with_image"})["result"]
            self.assertEqual(image["messages"][0]["content"]["type"], "image")
        self.each_front(check)

    def test_prompt_errors(self):
        def check(session):
            self.assertError(session.rpc("prompts/get", {"name": "nope"}), -32602, "unknown prompt")
            self.assertError(session.rpc("prompts/get", {"name": "test_prompt_with_arguments",
                                                         "arguments": {"arg1": "a"}}), -32602, "arg2")
            self.assertError(session.rpc("prompts/get", {"name": "test_prompt_with_arguments",
                                                         "arguments": {"arg1": "a", "arg2": 2}}), -32602, "arg2")
            self.assertError(session.rpc("prompts/get", {"name": "test_simple_prompt", "arguments": []}), -32602)
            self.assertError(session.rpc("prompts/get", {}), -32602)
            self.assertError(session.rpc("prompts/get"), -32602)
        self.each_front(check)

    def complete(self, session, ref, name, value):
        return session.rpc("completion/complete", {"ref": ref, "argument": {"name": name, "value": value}})

    def test_completion(self):
        prompt = {"type": "ref/prompt", "name": "test_prompt_with_arguments"}
        template = {"type": "ref/resource", "uri": "test://template/{id}/data"}

        def check(session):
            self.assertEqual(self.complete(session, prompt, "arg1", "pa")["result"],
                             {"completion": {"values": ["paris", "park", "party"], "total": 3, "hasMore": False}})
            self.assertEqual(self.complete(session, template, "id", "12")["result"]["completion"]["values"],
                             ["123", "124"])
            #  An argument with nothing to complete gets no suggestions
            self.assertEqual(self.complete(session, prompt, "arg2", "x")["result"]["completion"]["values"], [])
            nothing = {"type": "ref/prompt", "name": "test_simple_prompt"}
            self.assertError(self.complete(session, nothing, "arg1", ""), -32602, "no argument")
            self.assertError(self.complete(session, {"type": "ref/prompt", "name": "nope"}, "a", ""), -32602)
            self.assertError(self.complete(session, {"type": "ref/resource", "uri": "test://x/{y}"}, "y", ""),
                             -32602)
            self.assertError(self.complete(session, template, "nope", ""), -32602, "no variable")
            self.assertError(self.complete(session, {"type": "ref/tool"}, "a", ""), -32602)
            self.assertError(session.rpc("completion/complete", {"ref": prompt}), -32602)
            self.assertError(session.rpc("completion/complete", {"ref": prompt, "argument": {"name": "arg1"}}),
                             -32602)
        self.each_front(check)

    def test_capabilities_declared(self):
        def check(session):
            capabilities = session.init["capabilities"]
            self.assertEqual(capabilities["resources"], {"subscribe": True, "listChanged": True})
            self.assertEqual(capabilities["prompts"], {"listChanged": True})
            self.assertEqual(capabilities["tools"], {"listChanged": True})
            self.assertEqual(capabilities["completions"], {})
            self.assertEqual(capabilities["logging"], {})
        self.each_front(check)

    def test_no_completions_before_2025_03_26(self):
        def check(session):
            self.assertNotIn("completions", session.init["capabilities"])
            prompt = {"type": "ref/prompt", "name": "test_prompt_with_arguments"}
            self.assertError(self.complete(session, prompt, "arg1", "pa"), -32601)
            self.assertIn("prompts", session.init["capabilities"])
        self.each_front(check, version="2024-11-05")

    # -- requests to the client --------------------------------------------------

    def test_asks_refused_without_the_capability(self):
        def check(session):
            for tool, arguments, word in (("test_sampling", {"prompt": "p"}, "sampling"),
                                          ("test_elicitation", {"message": "m"}, "elicitation"),
                                          ("roots", {}, "roots")):
                result = session.rpc("tools/call", {"name": tool, "arguments": arguments})["result"]
                self.assertToolError(result, word + " capability")
        self.each_front(check)

    def test_inline_code_cannot_ask(self):
        def check(session):
            result = session.rpc("tools/call", {"name": "test_simple_text"})["result"]
            self.assertToolOk(result)
        self.each_front(check)


class AsksOverZeroMQ(ServerTestCase):
    """Requests to the client over MCPZ/1: a MSG to the peer of the call."""

    def setUp(self):
        self.server = self.start_server("--conformance-fixtures", "--request-timeout", "3000")
        self.session = ZmqFront(self, self.server, ALL_CAPABILITIES)
        self.c, self.sid = self.session.c, self.session.sid

    def asked(self, method):
        m = self.c.expect(lambda m: m.method == method and m.id is not None, what=method)
        self.assertEqual(m.sid, self.sid)
        return m

    def answer(self, ask, result=None, error=None):
        body = {"jsonrpc": "2.0", "id": ask.id}
        body.update({"result": result} if error is None else {"error": error})
        self.c.send("MSG", self.sid, body)

    def test_sampling_answered(self):
        rid = self.c.call_tool(self.sid, "test_sampling", {"prompt": "Say hi"})
        ask = self.asked("sampling/createMessage")
        self.assertEqual(ask.params["messages"][0]["content"]["text"], "Say hi")
        self.assertEqual(ask.params["maxTokens"], 100)
        self.answer(ask, {"role": "assistant", "content": {"type": "text", "text": "hi!"}, "model": "m"})
        result = self.c.wait(rid).result
        self.assertIn('"text":"hi!"', text_of(result))
        #  The answer is taken once: a second one is ignored, silently
        self.answer(ask, {"role": "assistant", "content": {"type": "text", "text": "again"}, "model": "m"})
        self.c.expect_silence(0.3)

    def test_elicitation_declined_and_client_errors(self):
        rid = self.c.call_tool(self.sid, "test_elicitation", {"message": "Who are you?"})
        ask = self.asked("elicitation/create")
        self.assertEqual(ask.params["requestedSchema"]["required"], ["username", "email"])
        self.answer(ask, {"action": "decline"})
        self.assertIn("decline", text_of(self.c.wait(rid).result))
        rid = self.c.call_tool(self.sid, "test_sampling", {"prompt": "x"})
        ask = self.asked("sampling/createMessage")
        self.answer(ask, error={"code": -1, "message": "the user said no"})
        self.assertToolError(self.c.wait(rid).result, "the user said no")

    def test_ids_are_the_servers_own(self):
        first = self.c.call_tool(self.sid, "test_sampling", {"prompt": "a"})
        second = self.c.call_tool(self.sid, "test_sampling", {"prompt": "b"})
        asks = [self.asked("sampling/createMessage"), self.asked("sampling/createMessage")]
        self.assertNotEqual(asks[0].id, asks[1].id)
        by_prompt = {ask.params["messages"][0]["content"]["text"]: ask for ask in asks}
        #  Answered out of order, each reaches its own call
        self.answer(by_prompt["b"], {"role": "assistant", "content": {"type": "text", "text": "B"}, "model": "m"})
        self.answer(by_prompt["a"], {"role": "assistant", "content": {"type": "text", "text": "A"}, "model": "m"})
        self.assertIn('"text":"A"', text_of(self.c.wait(first).result))
        self.assertIn('"text":"B"', text_of(self.c.wait(second).result))

    def test_cancelled_call_withdraws_its_ask(self):
        rid = self.c.call_tool(self.sid, "test_elicitation", {"message": "m"})
        ask = self.asked("elicitation/create")
        self.c.notify(self.sid, "notifications/cancelled", {"requestId": rid})
        del self.c.sent[idkey(rid)]         # MCP: a cancelled request gets no answer
        withdrawn = self.c.expect(lambda m: m.method == "notifications/cancelled", what="withdrawal")
        self.assertEqual(withdrawn.params["requestId"], ask.id)
        #  A late answer to the withdrawn ask goes nowhere
        self.answer(ask, {"action": "accept", "content": {}})
        self.assertEqual(self.c.result(self.sid, "ping"), {})
        self.c.expect_silence(0.3)

    def test_deadline_covers_the_wait(self):
        rid = self.c.call_tool(self.sid, "test_sampling", {"prompt": "x"})
        ask = self.asked("sampling/createMessage")
        started = time.monotonic()
        answer = self.c.wait(rid, timeout=10).json
        self.assertEqual(answer["error"]["code"], -32001, answer)
        self.assertLess(time.monotonic() - started, 5)
        withdrawn = self.c.expect(lambda m: m.method == "notifications/cancelled", what="withdrawal")
        self.assertEqual(withdrawn.params["requestId"], ask.id)

    def test_roots_and_their_changes(self):
        rid = self.c.call_tool(self.sid, "roots", {"watch_ms": 5000})
        ask = self.asked("roots/list")
        self.answer(ask, {"roots": [{"uri": "file:///a", "name": "a"}]})
        time.sleep(0.1)
        self.c.notify(self.sid, "notifications/roots/list_changed")
        again = self.asked("roots/list")
        self.assertNotEqual(again.id, ask.id)
        self.answer(again, {"roots": [{"uri": "file:///b"}]})
        result = self.c.wait(rid).result
        self.assertEqual(result["structuredContent"], {"roots": [{"uri": "file:///b"}]})

    def test_detach_is_silent_over_zeromq(self):
        #  MCPZ/1 has no stream to end: the result comes, and nothing else
        result = self.c.tool(self.sid, "test_reconnection")
        self.assertIn("reconnected", text_of(result))
        self.c.expect_silence(0.3)

    def test_unknown_responses_are_ignored(self):
        for body in ({"jsonrpc": "2.0", "id": 987654, "result": {}},
                     {"jsonrpc": "2.0", "id": "x", "error": {"code": 1, "message": "m"}},
                     {"jsonrpc": "2.0", "id": -1, "result": {}}):
            self.c.send("MSG", self.sid, body)
        self.assertEqual(self.c.result(self.sid, "ping"), {})
        self.c.expect_silence(0.3)


class Updates(ServerTestCase):
    """notifications/resources/updated reaches subscribed sessions only."""

    def test_over_zeromq(self):
        server = self.start_server("--conformance-fixtures")
        watcher, other, toucher = (ZmqFront(self, server) for _ in range(3))
        uri = "test://watched-resource"
        self.assertEqual(watcher.rpc("resources/subscribe", {"uri": uri})["result"], {})
        for session in (watcher, other):
            session.c.listen(session.sid)
        touched = toucher.rpc("tools/call", {"name": "touch", "arguments": {"uri": uri}})["result"]
        self.assertEqual(text_of(touched), uri)
        update = watcher.c.expect(lambda m: m.method == "notifications/resources/updated", what="update")
        self.assertEqual(update.params, {"uri": uri})
        other.c.expect_silence(0.3)
        #  A resource nobody watches reaches nobody
        toucher.rpc("tools/call", {"name": "touch", "arguments": {"uri": "test://static-text"}})
        watcher.c.expect_silence(0.3)
        self.assertEqual(watcher.rpc("resources/unsubscribe", {"uri": uri})["result"], {})
        toucher.rpc("tools/call", {"name": "touch", "arguments": {"uri": uri}})
        watcher.c.expect_silence(0.3)

    def test_without_a_listener_to_the_peer_that_spoke_last(self):
        """spec/mcpz-1.md section 4: a session with no listener gets its
        notices on the peer that spoke last."""
        server = self.start_server("--conformance-fixtures")
        watcher, toucher = ZmqFront(self, server), ZmqFront(self, server)
        uri = "test://watched-resource"
        self.assertEqual(watcher.rpc("resources/subscribe", {"uri": uri})["result"], {})
        toucher.rpc("tools/call", {"name": "touch", "arguments": {"uri": uri}})
        update = watcher.c.expect(lambda m: m.method == "notifications/resources/updated", what="update")
        self.assertEqual(update.sid, watcher.sid)
        reply = control(server.control_ep, {"command": "disable", "prompt": "test_simple_prompt"})
        self.assertIs(reply["changed"], True)
        for session in (watcher, toucher):
            session.c.expect(lambda m: m.method == "notifications/prompts/list_changed", what="list_changed")

    def test_over_http_on_the_get_stream(self):
        port = http_port()
        port_server = self.start_server("--http", "127.0.0.1:%d" % port, "--conformance-fixtures")
        port_server.http_port = port
        watcher = HttpFront(self, port_server)
        uri = "test://template/7/data"
        self.assertEqual(watcher.rpc("resources/subscribe", {"uri": uri})["result"], {})
        stream = Http(port_server.http_port)
        self.addCleanup(stream.close)
        stream.sid, stream.version = watcher.sid, LATEST
        stream.conn.request("GET", "/mcp", headers=stream.headers(accept="text/event-stream"))
        response = stream.conn.getresponse()
        self.assertEqual(response.status, 200)
        read_event(response, time.monotonic() + 5)      # the stream's anchor
        toucher = HttpFront(self, port_server)
        toucher.rpc("tools/call", {"name": "touch", "arguments": {"uri": uri}})
        _, data = read_event(response, time.monotonic() + 5)
        self.assertEqual(json.loads(data), {"jsonrpc": "2.0", "method": "notifications/resources/updated",
                                            "params": {"uri": uri}})


class AsksOverHttp(ServerTestCase):
    """Over HTTP a tool's request goes on the SSE stream of the POST that
    called it; the client POSTs its answer (202) and the stream goes on."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls, "--conformance-fixtures")

    def test_elicitation_on_the_calls_stream(self):
        session = HttpFront(self, self.server, ALL_CAPABILITIES)
        h = session.h
        h.next_id += 1
        call = {"jsonrpc": "2.0", "id": h.next_id, "method": "tools/call",
                "params": {"name": "test_elicitation_sep1034_defaults", "arguments": {}}}
        answer, response = h.send("POST", call, stream_events=1)
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.header("Content-Type"), "text/event-stream")
        ask = json.loads(answer.events[0][1])
        self.assertEqual(ask["method"], "elicitation/create")
        self.assertEqual(ask["params"]["requestedSchema"]["properties"]["age"]["default"], 30)
        other = Http(self.server.http_port)
        self.addCleanup(other.close)
        other.sid, other.version = h.sid, LATEST
        ack = other.post({"jsonrpc": "2.0", "id": ask["id"],
                          "result": {"action": "accept", "content": {"name": "Ann", "age": 3}}})
        self.assertEqual((ack.status, ack.body), (202, b""))
        _, data = read_event(response, time.monotonic() + 5)
        result = json.loads(data)
        self.assertEqual(result["id"], call["id"])
        self.assertIn("Ann", text_of(result["result"]))

    def test_withdrawn_ask_on_the_calls_stream(self):
        """A call that times out while its ask waits: the stream carries the
        ask, then notifications/cancelled for it, then the -32001 error."""
        port = http_port()
        server = self.start_server("--http", "127.0.0.1:%d" % port, "--conformance-fixtures",
                                   "--request-timeout", "700")
        server.http_port = port
        h = HttpFront(self, server, ALL_CAPABILITIES).h
        h.next_id += 1
        answer = h.post({"jsonrpc": "2.0", "id": h.next_id, "method": "tools/call",
                         "params": {"name": "test_sampling", "arguments": {"prompt": "x"}}})
        messages = answer.messages
        self.assertEqual([m.get("method") for m in messages],
                         ["sampling/createMessage", "notifications/cancelled", None], messages)
        self.assertEqual(messages[1]["params"]["requestId"], messages[0]["id"])
        self.assertEqual(messages[2]["error"]["code"], -32001)

    def test_detach_with_json_only_answers_in_json(self):
        session = HttpFront(self, self.server)
        h = session.h
        h.next_id += 1
        answer = h.post({"jsonrpc": "2.0", "id": h.next_id, "method": "tools/call",
                         "params": {"name": "test_reconnection", "arguments": {}}},
                        headers=h.headers(accept="application/json"))
        self.assertEqual(answer.status, 200)
        self.assertIn("reconnected", text_of(answer.json["result"]))

    def test_reconnection_gets_the_result(self):
        session = HttpFront(self, self.server)
        h = session.h
        h.next_id += 1
        answer = h.post({"jsonrpc": "2.0", "id": h.next_id, "method": "tools/call",
                         "params": {"name": "test_reconnection", "arguments": {}}})
        #  The stream ends after its priming event, before the result
        self.assertEqual(answer.header("Content-Type"), "text/event-stream")
        self.assertEqual(len(answer.events), 1)
        primed, data = answer.events[0]
        self.assertEqual(data, "")
        resumed = h.send("GET", headers=h.headers(accept="text/event-stream",
                                                   extra={"Last-Event-ID": primed}))
        results = [m for m in resumed.messages if m.get("id") == h.next_id]
        self.assertEqual(len(results), 1, resumed)
        self.assertIn("reconnected", text_of(results[0]["result"]))


class ListChanges(ServerTestCase):
    """An operator disables and enables rows (control commands disable and
    enable): lists, requests and subscriptions follow at once, and every
    ready session hears list_changed, on both fronts."""

    def setUp(self):
        port = http_port()
        self.server = self.start_server("--http", "127.0.0.1:%d" % port, "--conformance-fixtures")
        self.server.http_port = port
        self.zmq = ZmqFront(self, self.server)
        self.zmq.c.listen(self.zmq.sid)
        self.http = HttpFront(self, self.server)
        stream = Http(port)
        self.addCleanup(stream.close)
        stream.sid, stream.version = self.http.sid, LATEST
        stream.conn.request("GET", "/mcp", headers=stream.headers(accept="text/event-stream"))
        self.stream = stream.conn.getresponse()
        self.assertEqual(self.stream.status, 200)
        read_event(self.stream, time.monotonic() + 5)   # its anchor

    def operator(self, command, **target):
        request = {"command": command}
        request.update(target)
        return control(self.server.control_ep, request)

    def heard(self, notice):
        m = self.zmq.c.expect(lambda m: m.method == notice, what=notice)
        self.assertEqual(m.sid, self.zmq.sid)
        _, data = read_event(self.stream, time.monotonic() + 5)
        self.assertEqual(json.loads(data)["method"], notice)

    def names(self, session, method, key, field="name"):
        return [item[field] for item in session.rpc(method, {})["result"][key]]

    def test_disable_and_enable_a_tool(self):
        reply = self.operator("disable", tool="echo")
        self.assertEqual(reply, {"ok": True, "kind": "tool", "name": "echo", "enabled": False, "changed": True})
        self.heard("notifications/tools/list_changed")
        for session in (self.zmq, self.http):
            self.assertNotIn("echo", self.names(session, "tools/list", "tools"))
            answer = session.rpc("tools/call", {"name": "echo", "arguments": {"text": "x"}})
            self.assertEqual(answer["error"]["code"], -32602, answer)
        #  Disabling again changes nothing and tells nobody
        self.assertIs(self.operator("disable", tool="echo")["changed"], False)
        self.zmq.c.expect_silence(0.3)
        self.assertIs(self.operator("enable", tool="echo")["changed"], True)
        self.heard("notifications/tools/list_changed")
        for session in (self.zmq, self.http):
            self.assertIn("echo", self.names(session, "tools/list", "tools"))
            self.assertEqual(text_of(session.rpc("tools/call", {"name": "echo",
                                                                "arguments": {"text": "x"}})["result"]), "x")

    def test_disable_resources_templates_and_prompts(self):
        self.operator("disable", resource="test://static-text")
        self.heard("notifications/resources/list_changed")
        self.operator("disable", template="test://template/{id}/data")
        self.heard("notifications/resources/list_changed")
        self.operator("disable", prompt="test_simple_prompt")
        self.heard("notifications/prompts/list_changed")
        for session in (self.zmq, self.http):
            self.assertNotIn("test://static-text", self.names(session, "resources/list", "resources", "uri"))
            self.assertEqual(self.names(session, "resources/templates/list", "resourceTemplates"), [])
            self.assertNotIn("test_simple_prompt", self.names(session, "prompts/list", "prompts"))
            for method, params, code in (("resources/read", {"uri": "test://static-text"}, -32002),
                                         ("resources/read", {"uri": "test://template/1/data"}, -32002),
                                         ("resources/subscribe", {"uri": "test://static-text"}, -32002),
                                         ("prompts/get", {"name": "test_simple_prompt"}, -32602)):
                self.assertEqual(session.rpc(method, params)["error"]["code"], code, (method, params))
            self.assertIn("contents", session.rpc("resources/read", {"uri": "test://static-binary"})["result"])

    def test_unsubscribe_after_disable(self):
        uri = "test://watched-resource"
        self.assertEqual(self.zmq.rpc("resources/subscribe", {"uri": uri})["result"], {})
        self.operator("disable", resource=uri)
        self.heard("notifications/resources/list_changed")
        self.assertEqual(self.zmq.rpc("resources/unsubscribe", {"uri": uri})["result"], {})
        self.assertEqual(self.zmq.rpc("resources/subscribe", {"uri": uri})["error"]["code"], -32002)

    def test_operator_errors(self):
        reply = self.operator("disable", tool="a" * 99 + "\u00e9")
        self.assertIs(reply["ok"], False, reply)
        for request in ({"tool": "nope"}, {"prompt": "echo"}, {"resource": "test://nothing"},
                        {"template": "test://static-text"}):
            reply = self.operator("disable", **request)
            self.assertIs(reply["ok"], False, reply)
            self.assertIn("no such", reply["error"])
        for request in ({}, {"tool": ""}, {"tool": 1}, {"tool": "echo", "prompt": "x"}):
            self.assertIs(self.operator("enable", **request)["ok"], False, request)
        self.zmq.c.expect_silence(0.3)


class WithoutFixtures(ServerTestCase):
    """With only the demo tools, resources, prompts and completion are not
    offered: not declared, and -32601 when asked."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls)

    def test_missing_capabilities(self):
        for front in FRONTS:
            with self.subTest(front=front.name):
                session = front(self, self.server)
                self.assertEqual(set(session.init["capabilities"]), {"tools", "logging"})
                for method, params in (("resources/list", {}), ("resources/templates/list", {}),
                                       ("resources/read", {"uri": "test://static-text"}),
                                       ("resources/subscribe", {"uri": "test://static-text"}),
                                       ("prompts/list", {}), ("prompts/get", {"name": "x"}),
                                       ("completion/complete", {})):
                    answer = session.rpc(method, params)
                    self.assertEqual(answer["error"]["code"], -32601, (method, answer))


if __name__ == "__main__":
    unittest.main()
