"""The Python peer for `wallsocket-tools bench compare`: python-socketio 5 on aiohttp.

The same semantics as wallsocket's wall minus storage: a client emits `join` (room) and
`post` ({room, text, username}); each post gets the room's next seq, goes to everyone in the
room (its author too) as `post`, and is acknowledged with {seq}.

Usage: python server.py PORT  (listens on 127.0.0.1 only)
"""

import inspect
import sys

import socketio
from aiohttp import web

# WebSocket only, no compression, no CORS check: the same wire work as wallsocket. Heartbeats
# every 5 minutes: at 1,000 subscribers this server's backlog can pass the default 45 s, and
# a ping stuck behind it would drop the publisher mid-run instead of measuring it.
sio = socketio.AsyncServer(
    async_mode="aiohttp", transports=["websocket"], cors_allowed_origins="*", ping_interval=300, ping_timeout=300
)
app = web.Application()
sio.attach(app)
seqs: dict[str, int] = {}


@sio.event
async def join(sid, room):
    if not isinstance(room, str):
        return None
    entered = sio.enter_room(sid, room)
    if inspect.isawaitable(entered):
        await entered
    return {"ok": True}


@sio.event
async def post(sid, msg):
    if not isinstance(msg, dict) or not isinstance(msg.get("room"), str) or not isinstance(msg.get("text"), str):
        return None
    room = msg["room"]
    seq = seqs.get(room, 0) + 1
    seqs[room] = seq
    await sio.emit("post", {"room": room, "seq": seq, "text": msg["text"], "username": msg.get("username")}, to=room)
    return {"seq": seq}


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python server.py PORT")
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
