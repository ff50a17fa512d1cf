// The Node peer for `wallsocket-tools bench compare`: a minimal socket.io 4.8 room broadcast with
// the same semantics as wallsocket's wall minus storage. A client emits `join` (room) and
// `post` ({room, text, username}); each post gets the room's next seq, goes to everyone in
// the room (its author too) as `post`, and is acknowledged with {seq}.
// Usage: node server.js PORT  (listens on 127.0.0.1 only)
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.js PORT');
  process.exit(2);
}

const httpServer = http.createServer();
// WebSocket only and no compression: the same wire work as wallsocket.
const io = new Server(httpServer, { serveClient: false, transports: ['websocket'], perMessageDeflate: false });
const seqs = new Map();

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    if (typeof ack === 'function') ack({ ok: true });
  });
  socket.on('post', (msg, ack) => {
    if (!msg || typeof msg.room !== 'string' || typeof msg.text !== 'string') return;
    const seq = (seqs.get(msg.room) || 0) + 1;
    seqs.set(msg.room, seq);
    io.to(msg.room).emit('post', { room: msg.room, seq, text: msg.text, username: msg.username });
    if (typeof ack === 'function') ack({ seq });
  });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`socket.io peer on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
