#!/usr/bin/env python3
"""Join a wallsocket room, post one message, print the broadcast and the ack.

Written from docs/PROTOCOL.md alone. Needs the `websockets` package:
    python3 -m venv .venv && .venv/bin/pip install websockets==17.4
    .venv/bin/python examples/python_client.py --url ws://127.0.0.1:3000/ws --room lobby --user py --text "hello"
"""
import argparse
import asyncio
import json
import sys
import uuid

import websockets


async def main(url: str, room: str, user: str, text: str) -> int:
    async with websockets.connect(url) as ws:
        hello = json.loads(await ws.recv())
        print("hello:", hello)
        await ws.send(json.dumps({"type": "join", "room": room, "username": user}))
        client_id = uuid.uuid4().hex
        await ws.send(json.dumps({"type": "post", "room": room, "text": text, "client_id": client_id}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "joined":
                print(f"joined {room}: {len(msg['history'])} recent posts, {msg['members']} here")
            elif msg["type"] == "post" and msg["client_id"] == client_id:
                print(f"broadcast: [{msg['seq']}] {msg['username']}: {msg['text']}")
            elif msg["type"] == "ack" and msg["client_id"] == client_id:
                print(f"ack: stored as seq {msg['seq']}")
                return 0
            elif msg["type"] == "error":
                print(f"error {msg['code']}: {msg['message']}", file=sys.stderr)
                return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:3000/ws")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--user", default="python")
    parser.add_argument("--text", default="hello from Python")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.url, args.room, args.user, args.text)))
