#!/usr/bin/env python3
"""Join a wallsocket room, post, print each broadcast and ack.

Written from docs/PROTOCOL.md alone. Needs the `websockets` package:
    python3 -m venv .venv && .venv/bin/pip install websockets==17.4
    .venv/bin/python examples/python_client.py --url ws://127.0.0.1:3000/ws --room lobby --user py --text "hello"
With --count N it posts N numbered copies, paced to the rate limit `hello` advertises, so the
server refuses none of them. With --identity FILE it keeps the secret of the name it claims
(the server sends it once, in `claimed`) and sends it with its next joins: without it, a
later run under the same name is refused `name_taken`.
"""
import argparse
import asyncio
import json
import os
import sys
import time
import uuid

import websockets


class Pacer:
    """A token bucket under the server's advertised rate: half its burst, 80 % of its rate
    (messages sent at exactly the limit can arrive bunched). No `rate` in hello: no pacing."""

    def __init__(self, rate):
        rate = rate if rate and rate.get("per_sec") and rate.get("burst") else None  # 0: no usable limit
        self.per_s = rate["per_sec"] * 0.8 if rate else None
        self.capacity = max(1.0, rate["burst"] / 2) if rate else 0.0
        self.tokens = self.capacity
        self.last = time.monotonic()

    async def wait(self):
        """Waits until one more message may go, and counts it."""
        if self.per_s is None:
            return
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.per_s)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.per_s)


def load_claims(path):
    """The identity file: each name (lowercased) to its claim's secret."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def keep_claim(path, name, secret):
    """Adds a claim to the identity file, readable by its owner only (mode 0600)."""
    claims = load_claims(path)
    claims[name.lower()] = secret
    fresh = path + ".new"
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(claims, f)
    os.replace(fresh, path)


async def main(url: str, room: str, user: str, text: str, count: int, identity) -> int:
    async with websockets.connect(url) as ws:
        hello = json.loads(await ws.recv())
        print("hello:", hello)
        pacer = Pacer(hello.get("rate"))
        await pacer.wait()
        join = {"type": "join", "room": room, "username": user}
        secret = load_claims(identity).get(user.lower())
        if secret:
            join["claim"] = secret
        await ws.send(json.dumps(join))
        texts = [text] if count == 1 else [f"{text} ({i})" for i in range(1, count + 1)]
        waiting = {uuid.uuid4().hex: t for t in texts}
        # Posts go while replies come in: the reader below runs beside the sender.
        async def send_all():
            for client_id, t in list(waiting.items()):
                await pacer.wait()
                await ws.send(json.dumps({"type": "post", "room": room, "text": t, "client_id": client_id}))
        sender = asyncio.create_task(send_all())
        while waiting:
            msg = json.loads(await ws.recv())
            if msg["type"] == "claimed":
                # Sent once, when this join is the name's first use: keep it or lose the name.
                print(f"claimed {msg['username']} (#{msg['fingerprint']})")
                if identity:
                    keep_claim(identity, msg["username"], msg["claim"])
            elif msg["type"] == "joined":
                print(f"joined {room}: {len(msg['history'])} recent posts, {msg['members']} here")
            elif msg["type"] == "post" and msg["client_id"] in waiting:
                print(f"broadcast: [{msg['seq']}] {msg['username']}: {msg['text']}")
            elif msg["type"] == "ack" and waiting.pop(msg["client_id"], None) is not None:
                print(f"ack: stored as seq {msg['seq']}")
            elif msg["type"] == "error":
                print(f"error {msg['code']}: {msg['message']}", file=sys.stderr)
                sender.cancel()
                return 1
        await sender
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:3000/ws")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--user", default="python")
    parser.add_argument("--text", default="hello from Python")
    parser.add_argument("--count", type=int, default=1, help="post the text this many times, numbered")
    parser.add_argument("--identity", help="a file keeping the secrets of the names claimed (0600)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.url, args.room, args.user, args.text, args.count, args.identity)))
