"""A loopback fake of the WeCom server API: real HTTP on 127.0.0.1, answers
shaped like WeCom's, every call recorded. Tests put files behind media ids,
expire the access token, and queue error codes for the next calls of a path."""
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


@dataclass
class Call:
    path: str  # "message/send"
    params: dict  # the query string
    body: dict = field(default_factory=dict)  # JSON body, or the form of an upload
    answer: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.body[key]

    @property
    def ok(self) -> bool:
        return self.answer.get("errcode", 0) == 0


# A company and app secret for tests that need no particular ones.
TEST_CORP, TEST_SECRET = "wwredshieldtest01", "test-app-secret"


class FakeWecomAPI:
    def __init__(self, corp_id: str = "wwfakecorp", secret: str = "fake-secret"):
        self.corp_id, self.secret = corp_id, secret
        self.calls: list[Call] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.errors: dict[str, deque[dict | None]] = defaultdict(deque)
        self.sticky_errors: dict[str, dict] = {}
        self.delays: dict[str, float] = {}  # seconds a path takes to answer: a slow network
        self.token: str | None = None
        self.expired: set[str] = set()
        self._numbers = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self.port = 0
        # The company and the app's visible range (agent/get, user/simplelist, tag/get...):
        # userid -> (name, departments); department -> its parent; tag -> (userids, departments).
        self.users: dict[str, tuple[str, list[int]]] = {}
        self.departments: dict[int, int] = {1: 0}
        self.tags: dict[int, tuple[list[str], list[int]]] = {}
        self.agent_name = "红盾"
        self.visible_users: list[str] = []
        self.visible_departments: list[int] = []
        self.visible_tags: list[int] = []
        self.agent_closed = False
        self.honour_fetch_child = True  # False: user/simplelist ignores it, as documented now
        self.untrusted_ip: str | None = None  # set: every call but gettoken answers 60020

    # ---- what tests use

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def sent(self, path: str | None = None, *, msgtype: str | None = None) -> list[Call]:
        return [c for c in self.calls if (path is None or c.path == path)
                and (msgtype is None or c.body.get("msgtype") == msgtype)]

    def fail(self, path: str, errcode: int, times: int | None = 1, **extra) -> None:
        """The next `times` calls of `path` answer `errcode` (every call when times is None).
        errcode 0 with extras (invaliduser=...) is a success that names problems."""
        answer = {"errcode": errcode, "errmsg": f"fake error {errcode}", **extra}
        if times is None:
            self.sticky_errors[path] = answer
        else:
            self.errors[path].extend([answer] * times)

    def add_user(self, userid: str, name: str, department: int = 1) -> None:
        self.users[userid] = (name, [department])

    def distrust_ip(self, ip: str = "203.0.113.7") -> None:
        """Our address is not among the app's trusted IPs: 60020 for every API call
        (gettoken still answers), worded as WeCom words it."""
        self.untrusted_ip = ip

    def expire_token(self) -> None:
        """The token handed out so far stops working, as after two hours."""
        if self.token:
            self.expired.add(self.token)

    # ---- serving

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/cgi-bin/{path:path}", self._api,
                                      methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task

    async def _api(self, request: Request) -> Response:
        path = request.path_params["path"]
        params = dict(request.query_params)
        body: dict = {}
        if request.method == "POST":
            if path == "media/upload":
                form = await request.form()
                upload = form["media"]
                body = {"filename": upload.filename, "data": await upload.read(),
                        "content_type": upload.content_type}
            else:
                body = json.loads(await request.body() or b"{}")
        call = Call(path, params, body)
        self.calls.append(call)
        await asyncio.sleep(self.delays.get(path, 0))
        answer = self._error_for(call) or await self._answer(call)
        if isinstance(answer, Response):
            return answer
        call.answer = answer
        return JSONResponse(answer)

    def _error_for(self, call: Call) -> dict | None:
        if call.path != "gettoken":
            given = call.params.get("access_token")
            if given in self.expired:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if given != self.token:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self.errors[call.path]:
            return self.errors[call.path].popleft()
        if self.untrusted_ip and call.path != "gettoken":
            return {"errcode": 60020, "errmsg": (
                "not allow to access from your ip, hint: [1700000000000000000000000], "
                f"from ip: {self.untrusted_ip}, more info at "
                "https://open.work.weixin.qq.com/devtool/query?e=60020")}
        return self.sticky_errors.get(call.path)

    async def _answer(self, call: Call) -> dict | Response:
        n = next(self._numbers)
        if call.path == "gettoken":
            if (call.params.get("corpid"), call.params.get("corpsecret")) != (self.corp_id,
                                                                               self.secret):
                return {"errcode": 40001, "errmsg": "invalid credential"}
            self.token = f"token-{n}"
            return {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": 7200}
        if call.path == "message/send":
            answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"msg-{n}"}
            if call.body.get("msgtype") == "template_card":
                answer["response_code"] = f"sent-code-{n}"
            return answer
        if call.path == "media/get":
            found = self.media.get(call.params.get("media_id", ""))
            if found is None:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            data, content_type = found
            return Response(data, media_type=content_type, headers={
                "Content-Disposition": f'attachment; filename="{n}.jpg"'})
        if call.path == "media/upload":
            return {"errcode": 0, "errmsg": "", "type": call.params.get("type"),
                    "media_id": f"uploaded-{n}", "created_at": str(int(time.time()))}
        if call.path in ("message/update_template_card", "menu/create"):
            return {"errcode": 0, "errmsg": "ok"}
        if call.path == "agent/get":
            return {"errcode": 0, "errmsg": "ok", "agentid": int(call.params.get("agentid", 0)),
                    "name": self.agent_name, "description": "",
                    "allow_userinfos": {"user": [{"userid": u} for u in self.visible_users]},
                    "allow_partys": {"partyid": list(self.visible_departments)},
                    "allow_tags": {"tagid": list(self.visible_tags)},
                    "close": int(self.agent_closed), "redirect_domain": "",
                    "report_location_flag": 0, "isreportenter": 0, "home_url": ""}
        if call.path == "department/simplelist":
            top = int(call.params.get("id", 1))
            return {"errcode": 0, "errmsg": "ok", "department_id": [
                {"id": d, "parentid": self.departments[d], "order": 0}
                for d in self._below(top)]}
        if call.path == "user/simplelist":
            top = int(call.params.get("department_id", 0))
            if top not in self.departments:
                return {"errcode": 60003, "errmsg": "department not found"}
            wanted = ({top} if not (self.honour_fetch_child and call.params.get("fetch_child") == "1")
                      else set(self._below(top)))
            return {"errcode": 0, "errmsg": "ok", "userlist": [
                {"userid": u, "name": name, "department": depts}
                for u, (name, depts) in self.users.items() if wanted & set(depts)]}
        if call.path == "tag/get":
            tag = self.tags.get(int(call.params.get("tagid", 0)))
            if tag is None:
                return {"errcode": 40068, "errmsg": "invalid tagid"}
            userids, parties = tag
            return {"errcode": 0, "errmsg": "ok", "tagname": "tag", "partylist": list(parties),
                    "userlist": [{"userid": u, "name": self.users.get(u, (u,))[0]}
                                 for u in userids]}
        return {"errcode": 40035, "errmsg": "unknown path (fake)"}

    def _below(self, top: int) -> list[int]:
        """A department and every one under it."""
        found, queue = [], [top] if top in self.departments else []
        while queue:
            d = queue.pop(0)
            found.append(d)
            queue += [c for c, parent in self.departments.items() if parent == d]
        return found
