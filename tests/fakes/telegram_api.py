"""A loopback fake of the Telegram Bot API: real HTTP, answers shaped like
Telegram's, every call recorded. Tests queue updates for getUpdates, files for
getFile, and errors for the next calls of a method."""
from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "红盾", "username": "RedShieldTestBot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def __getitem__(self, key):
        return self.params[key]

    @property
    def keyboard(self) -> list[list[dict]]:
        markup = self.params.get("reply_markup") or {}
        return markup.get("inline_keyboard") or markup.get("keyboard") or []

    @property
    def buttons(self) -> list[dict]:
        return [b for row in self.keyboard for b in row]


class FakeBotAPI:
    def __init__(self, token: str = "123:TEST"):
        self.token = token
        self.calls: list[Call] = []
        self.updates: deque[dict] = deque()
        self.files: dict[str, bytes] = {}
        self.errors: dict[str, deque[dict]] = defaultdict(deque)
        self._message_ids = itertools.count(100)
        # What getWebhookInfo reports (setWebhook / deleteWebhook change the url).
        self.webhook_url = ""
        self.webhook_last_error: tuple[int, str] | None = None  # (unix time, message)
        self._new_call = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self.port = 0

    # ---- what tests use

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def sent(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if method is None or c.method == method]

    def texts(self) -> list[str]:
        return [c["text"] for c in self.calls if c.method == "sendMessage"]

    def fail_next(self, method: str, code: int, description: str, times: int = 1,
                  retry_after: int | None = None) -> None:
        body = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        for _ in range(times):
            self.errors[method].append(body)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        """Wait until `count` calls of `method` were made in all."""
        deadline = time.monotonic() + timeout
        while len(self.sent(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{method} x{count} not called; calls: "
                                     f"{[c.method for c in self.calls]}")
            self._new_call.clear()
            try:
                await asyncio.wait_for(self._new_call.wait(), remaining)
            except TimeoutError:
                pass
        return self.sent(method)

    # ---- serving

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[
            Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
        ])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task

    async def _file(self, request: Request) -> Response:
        data = self.files.get(request.path_params["path"])
        if data is None or request.path_params["token"] != self.token:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                status_code=401)
        method = request.path_params["method"]
        form = await request.form()
        params = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):  # an uploaded file
                params[key] = await value.read()
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self._new_call.set()
        if self.errors[method]:
            body = self.errors[method].popleft()
            return JSONResponse(body, status_code=body["error_code"])
        result = await getattr(self, f"_m_{method}", self._m_default)(params)
        return JSONResponse({"ok": True, "result": result})

    # ---- methods

    async def _m_default(self, params):
        return True

    async def _m_getMe(self, params):
        return BOT_USER

    async def _m_setWebhook(self, params):
        self.webhook_url = params.get("url", "")
        return True

    async def _m_deleteWebhook(self, params):
        self.webhook_url = ""
        return True

    async def _m_getWebhookInfo(self, params):
        info = {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": 0 if self.webhook_url else len(self.updates)}
        if self.webhook_url and self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _m_getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.2)
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready or time.monotonic() >= deadline:
                # Confirmed updates are forgotten, as Telegram does.
                while self.updates and self.updates[0]["update_id"] < offset:
                    self.updates.popleft()
                return ready
            await asyncio.sleep(0.02)

    def _message(self, params, **content):
        chat_id = params.get("chat_id")
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "group"},
                "from": BOT_USER, **content}

    async def _m_sendMessage(self, params):
        return self._message(params, text=params.get("text", ""))

    async def _m_editMessageText(self, params):
        return self._message(params, text=params.get("text", ""))

    async def _m_sendPhoto(self, params):
        return self._message(params, photo=[{"file_id": "sent", "file_unique_id": "s",
                                             "width": 1, "height": 1}])

    async def _m_sendDocument(self, params):
        return self._message(params, document={"file_id": "sent-doc", "file_unique_id": "d"})

    async def _m_getFile(self, params):
        file_id = params["file_id"]
        path = f"photos/{file_id}.jpg"
        return {"file_id": file_id, "file_unique_id": f"u{file_id}",
                "file_size": len(self.files.get(path, b"")), "file_path": path}
