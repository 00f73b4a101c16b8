// Preload for test servers: every net.Server listens on 127.0.0.1 only,
// whatever host the program asked for. Tests must never expose a port on
// another address.
//
//   node -r ./loopback.js node_modules/kinesis-local/main.js
'use strict';

const net = require('net');

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    // listen(options[, backlog][, cb]). A Unix socket path or an inherited
    // handle or fd is not a TCP address: leave those alone.
    const tcp = first.path === undefined && first.fd === undefined &&
      first._handle === undefined && first.handle === undefined;
    if (tcp) {
      args[0] = Object.assign({}, first, { host: LOOPBACK });
    }
    return listen.apply(this, args);
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) {
    // listen(path[, backlog][, cb]): a Unix socket.
    return listen.apply(this, args);
  }
  if (typeof first === 'function' || first === undefined) {
    // listen([cb]): a random port.
    return listen.call(this, 0, LOOPBACK, ...args.slice(first === undefined ? 1 : 0));
  }
  // listen(port[, host][, backlog][, cb]).
  const rest = args.slice(1);
  if (rest.length > 0 && (typeof rest[0] === 'string' || rest[0] == null)) {
    rest[0] = LOOPBACK;
  } else {
    rest.unshift(LOOPBACK);
  }
  return listen.call(this, first, ...rest);
};
