"""A small async client for the WeCom (企业微信) server API.

Our own rather than wechatpy's `WeChatClient`, which is synchronous, has no
timeout by default, fetches its token from a fixed host whatever the base URL,
and retries token errors without limit. Here every endpoint, gettoken included,
goes through `api_base_url`; every call has a timeout; every retry is bounded:

- 40001 / 40014 / 42001 (token refused): fetch a new token once, retry once.
- 45009 / 45033 (call rate / concurrency limit): wait and retry, `rate_delays` times.
- 60020 (our IP is not trusted): one log line saying what to configure.

The access token is cached in memory, or in Redis (`wecom.redis_url`) so that
several web workers share one token instead of each fetching its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot import metrics
from bot.config import WecomConfig

log = logging.getLogger("redshield.wecom")

TIMEOUT = 10.0  # seconds, for every call
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RATE_ERRORS = frozenset({45009, 45033})
UNTRUSTED_IP = 60020
ALL_INVALID = 81013  # every recipient invalid (left the company, outside the app's range)
MAX_JSON_BYTES = 1 << 20
PLATFORM = "wecom"  # as the metrics name it


class WecomError(Exception):
    def __init__(self, errcode: int | None, errmsg: str, path: str):
        self.errcode, self.errmsg, self.path = errcode, errmsg, path
        super().__init__(f"WeCom {path}: {errcode} {errmsg}")


class TooLarge(Exception):
    """A download is larger than the caller accepts; it was not read to the end."""


@dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str


# ---- where the access token is kept


class TokenCache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: int) -> None: ...

    async def delete_if(self, key: str, value: str) -> None: ...

    async def close(self) -> None: ...


class MemoryTokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._items: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> str | None:
        value, expires = self._items.get(key, (None, 0.0))
        return value if value is not None and self.clock() < expires else None

    async def set(self, key: str, value: str, ttl: int) -> None:
        self._items[key] = (value, self.clock() + ttl)

    async def delete_if(self, key: str, value: str) -> None:
        if self._items.get(key, (None,))[0] == value:
            del self._items[key]

    async def close(self) -> None:
        pass


class RedisTokenCache:
    def __init__(self, url: str):
        import redis.asyncio as redis  # optional: only deployments with several workers need it

        self.redis = redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)

    async def get(self, key: str) -> str | None:
        value = await self.redis.get(key)
        return value.decode() if value is not None else None

    async def set(self, key: str, value: str, ttl: int) -> None:
        await self.redis.set(key, value, ex=ttl)

    async def delete_if(self, key: str, value: str) -> None:
        # Another worker may have stored a fresh token meanwhile: only drop the refused one.
        if await self.get(key) == value:
            await self.redis.delete(key)

    async def close(self) -> None:
        await self.redis.aclose()


# ---- the client


class WecomClient:
    def __init__(self, config: WecomConfig, *, cache: TokenCache | None = None,
                 timeout: float = TIMEOUT, rate_delays: tuple[float, ...] = (1.0, 2.0, 4.0),
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        self.config = config
        self.base = config.api_base_url.rstrip("/") + "/"
        if cache is None:
            cache = RedisTokenCache(config.redis_url) if config.redis_url else MemoryTokenCache()
        self.cache = cache
        self.rate_delays = rate_delays
        self.sleep = sleep
        # Proxies from the environment are honoured: some sites reach WeCom only through one.
        self.http = httpx.AsyncClient(timeout=timeout)
        self._token_lock = asyncio.Lock()
        self._ip_explained = False
        # The secret stays out of the key; an agent id names one app of the corp.
        self._token_key = f"redshield:wecom:token:{config.corp_id}:{config.agent_id}"

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.cache.close()

    # ---- endpoints

    async def send(self, message: dict) -> dict:
        """message/send for one app message; the answer may list `invaliduser`."""
        return await self.call("POST", "message/send",
                               body={"agentid": self.config.agent_id, **message})

    async def update_button(self, userid: str, response_code: str, replace_name: str) -> dict:
        return await self.call("POST", "message/update_template_card", body={
            "userids": [userid], "agentid": self.config.agent_id,
            "response_code": response_code, "button": {"replace_name": replace_name},
        })

    async def download_media(self, media_id: str, max_bytes: int) -> Download:
        result = await self.call("GET", "media/get", params={"media_id": media_id},
                                 download_limit=max_bytes)
        if not isinstance(result, Download):
            raise WecomError(None, "media/get answered without a file", "media/get")
        return result

    async def upload_media(self, kind: str, data: bytes, filename: str, content_type: str) -> str:
        result = await self.call("POST", "media/upload", params={"type": kind},
                                 files={"media": (filename, data, content_type)})
        return result["media_id"]

    async def create_menu(self, menu: dict) -> None:
        await self.call("POST", "menu/create", params={"agentid": self.config.agent_id},
                        body=menu)

    # ---- the app and its visible range (read only; `redshield doctor` uses them)

    async def agent(self) -> dict:
        """agent/get for our app: its name, `close` (1: disabled) and its visible range,
        `allow_userinfos.user[].userid`, `allow_partys.partyid[]`, `allow_tags.tagid[]`."""
        return await self.call("GET", "agent/get", params={"agentid": self.config.agent_id})

    async def department_ids(self, department_id: int) -> list[int]:
        """department/simplelist: the department and every department below it (those
        the app may see)."""
        result = await self.call("GET", "department/simplelist", params={"id": department_id})
        return [int(d["id"]) for d in result.get("department_id") or [] if "id" in d]

    async def department_users(self, department_id: int, *, fetch_child: bool = False) -> list[dict]:
        """user/simplelist: the members of a department, `[{userid, name, department}]`.
        WeCom's current documentation drops `fetch_child` (list the sub-departments with
        `department_ids` instead); older set-ups still honour it."""
        params = {"department_id": department_id}
        if fetch_child:
            params["fetch_child"] = 1
        result = await self.call("GET", "user/simplelist", params=params)
        return list(result.get("userlist") or [])

    async def tag_members(self, tag_id: int) -> tuple[list[dict], list[int]]:
        """tag/get: a tag's members `[{userid, name}]` and its departments."""
        result = await self.call("GET", "tag/get", params={"tagid": tag_id})
        return list(result.get("userlist") or []), [int(p) for p in result.get("partylist") or []]

    # ---- calls, with the bounded retries described above

    async def call(self, method: str, path: str, *, params: dict | None = None,
                   body: dict | None = None, files: dict | None = None,
                   download_limit: int | None = None) -> dict | Download:
        token_refreshed = False
        rate_delays = iter(self.rate_delays)
        while True:
            token = await self.access_token()
            result = await self._once(method, path, token, params, body, files, download_limit)
            if isinstance(result, Download):
                return result
            errcode = int(result.get("errcode") or 0)
            if errcode == 0:
                return result
            metrics.platform_error(PLATFORM, errcode)  # also those retried below
            if errcode in TOKEN_ERRORS and not token_refreshed:
                token_refreshed = True
                await self.access_token(refused=token)
                continue
            if errcode in RATE_ERRORS:
                delay = next(rate_delays, None)
                if delay is not None:
                    log.info("WeCom rate limit (%s) on %s; retrying in %.1fs", errcode, path, delay)
                    await self.sleep(delay)
                    continue
            if errcode in TOKEN_ERRORS:
                log.error("WeCom refused a freshly fetched access token (%s) on %s; giving up. "
                          "Check wecom.corp_id and wecom.secret.", errcode, path)
            self._explain(errcode)
            raise WecomError(errcode, str(result.get("errmsg", "")), path)

    async def access_token(self, refused: str | None = None) -> str:
        """The cached token, or a new one. `refused`: the token WeCom just turned down."""
        async with self._token_lock:
            cached = await self.cache.get(self._token_key)
            if cached and cached != refused:
                return cached  # still good, or already replaced by another caller
            if refused is not None:
                await self.cache.delete_if(self._token_key, refused)
            with _transport_errors_counted():
                answer = await self.http.get(self.base + "gettoken", params={
                    "corpid": self.config.corp_id, "corpsecret": self.config.secret})
            result = await self._json(answer, "gettoken")
            errcode = int(result.get("errcode") or 0)
            if errcode != 0 or "access_token" not in result:
                metrics.platform_error(PLATFORM, errcode)
                self._explain(errcode)
                raise WecomError(errcode, str(result.get("errmsg", "")), "gettoken")
            # Refreshed five minutes early, so no call goes out with a token about to expire.
            ttl = max(60, int(result.get("expires_in") or 7200) - 300)
            await self.cache.set(self._token_key, result["access_token"], ttl)
            return result["access_token"]

    async def _once(self, method, path, token, params, body, files, download_limit):
        content = headers = None
        if body is not None:
            # UTF-8 as is, not \u escapes: WeCom shows escaped Chinese literally in some places.
            content = json.dumps(body, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json; charset=utf-8"}
        request = self.http.build_request(
            method, self.base + path, params={**(params or {}), "access_token": token},
            content=content, headers=headers, files=files)
        with _transport_errors_counted():
            response = await self.http.send(request, stream=True)
        try:
            kind = response.headers.get("content-type", "")
            if download_limit is not None and response.status_code == 200 and not _is_json(kind):
                return Download(await _read_capped(response, download_limit), kind)
            return await self._json(response, path)
        finally:
            await response.aclose()

    @staticmethod
    async def _json(response: httpx.Response, path: str) -> dict:
        if response.status_code != 200:
            metrics.platform_error(PLATFORM, f"http_{response.status_code}")
            raise WecomError(None, f"HTTP {response.status_code}", path)
        raw = await _read_capped(response, MAX_JSON_BYTES)
        try:
            result = json.loads(raw)
        except ValueError:
            raise WecomError(None, "answer is not JSON", path) from None
        if not isinstance(result, dict):
            raise WecomError(None, "answer is not a JSON object", path)
        return result

    def _explain(self, errcode: int | None) -> None:
        if errcode == UNTRUSTED_IP and not self._ip_explained:
            self._ip_explained = True  # once: the fix is the same for every message
            log.error("WeCom refuses calls from this server's IP address (60020). Add the "
                      "server's public IP to the app's trusted IPs: WeCom admin console → "
                      "应用管理 → this app → 企业可信IP.")


@contextlib.contextmanager
def _transport_errors_counted() -> Iterator[None]:
    """A call that never got an answer (timeout, refused connection) counts as an error too."""
    try:
        yield
    except httpx.HTTPError as err:
        metrics.platform_error(PLATFORM, type(err).__name__)
        raise


def _is_json(content_type: str) -> bool:
    # WeCom answers errors of file endpoints as JSON, sometimes labelled text/plain.
    return "json" in content_type or content_type.startswith("text/plain")


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > limit:
            raise TooLarge
    return bytes(data)
