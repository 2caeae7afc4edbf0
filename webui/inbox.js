/*
 * The agent inbox: the queue of conversations waiting for a person, the ones this agent holds,
 * messages left offline. Plain JavaScript, no build, no third-party code.
 *
 * Live events come over the WebSocket /inbox/ws (docs/protocol.md, "The agent inbox"); lists
 * and a conversation's history come from /api/inbox/*. Text is only ever set as text.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'inbox:token';
  var REVOKED_CLOSE = 4401;  // the server ended this login (docs/protocol.md)
  var SIGNED_OUT = 'You were signed out: this login was ended elsewhere (a logout, a password change or a deleted account). Log in again to continue.';
  var WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/inbox/ws';
  var S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    ws: null,
    attempts: 0,
    retryTimer: 0,
    current: null,     // the session id open on the right
    view: null,        // its SessionView
    mine: [],          // session ids this agent holds
    shown: new Set(),  // message ids shown in the open conversation
    pending: {},       // reply id -> text, until acknowledged
    lastTyping: 0,
    typingTimer: 0,
    agents: []
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function status(text) { $('ib-status').textContent = text; }
  /** An http(s) URL as a string, or null: nothing else becomes a link or a picture. */
  function safeUrl(value) {
    if (typeof value !== 'string') return null;
    try {
      var url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) { return null; }
  }
  function newId() { return 'a' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8); }

  // -- HTTP ----------------------------------------------------------------------------------

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ 'Authorization': 'Bearer ' + S.token }, options.headers || {});
    return fetch(path, options).then(function (response) {
      if (response.status === 401) { logout(); throw new Error('log in again'); }
      if (!response.ok) throw new Error(response.status + ' ' + response.statusText);
      return response.status === 204 ? null : response.json();
    });
  }

  // -- log in and out ------------------------------------------------------------------------

  $('ib-login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var error = $('ib-login-error');
    error.textContent = '';
    fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('ib-username').value, password: $('ib-password').value })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (r) {
      if (!r.ok) { error.textContent = 'Wrong user name or password.'; return; }
      if (r.body.user.role !== 'agent' && r.body.user.role !== 'admin') {
        error.textContent = 'This account is not an agent\u2019s: ask an admin for the agent role.';
        return;
      }
      S.token = r.body.token;
      sessionStorage.setItem(TOKEN_KEY, S.token);
      start();
    }).catch(function () { error.textContent = 'The server cannot be reached; try again.'; });
  });

  $('ib-logout').addEventListener('click', function () {
    fetch('/api/logout', { method: 'POST', headers: { 'Authorization': 'Bearer ' + S.token } }).catch(function () {});
    logout();
  });

  function logout() {
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (S.ws) { S.ws.onclose = null; S.ws.close(); S.ws = null; }
    clearTimeout(S.retryTimer);
    $('ib-desk').hidden = true;
    $('ib-logout').hidden = true;
    $('ib-login').hidden = false;
    status('');
    $('ib-username').focus();
  }

  /** The server ended this login (`token_revoked`, then close 4401): back to the login form, saying why. */
  function signedOut() {
    logout();
    $('ib-login-error').textContent = SIGNED_OUT;
  }

  function start() {
    $('ib-login').hidden = true;
    $('ib-desk').hidden = false;
    $('ib-logout').hidden = false;
    connect();
  }

  // -- the connection ------------------------------------------------------------------------

  function connect() {
    clearTimeout(S.retryTimer);
    var sock = new WebSocket(WS_URL);
    S.ws = sock;
    status('Connecting\u2026');
    sock.onopen = function () { sock.send(JSON.stringify({ type: 'hello', token: S.token })); };
    sock.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      handle(frame);
    };
    sock.onclose = function (ev) {
      if (sock !== S.ws) return;
      S.ws = null;
      if (ev.code === REVOKED_CLOSE) { signedOut(); return; }
      if (!S.token) return;
      status('Offline: reconnecting\u2026');
      var delay = Math.min(10000, 500 * Math.pow(2, S.attempts++));
      S.retryTimer = setTimeout(connect, delay);
    };
  }

  function send(frame) {
    if (!S.ws || S.ws.readyState !== 1) { status('Offline: the message was not sent; try again in a moment.'); return false; }
    S.ws.send(JSON.stringify(frame));
    return true;
  }

  function handle(f) {
    switch (f.type) {
      case 'welcome':
        S.me = f;
        S.attempts = 0;
        status('Signed in as ' + f.agent + ' (' + f.role + ')');
        refreshMine();
        refreshTickets();
        refreshAgents();
        if (S.current) openConversation(S.current);
        break;
      case 'queue': renderQueue(f.items); break;
      case 'tickets': refreshTickets(); break;
      case 'message':
        if (f.session_id === S.current) showMessage(f.message);
        break;
      case 'typing':
        if (f.session_id === S.current) userTyping();
        break;
      case 'taken':
        refreshMine();
        openConversation(f.session_id);
        break;
      case 'released':
        refreshMine();
        if (f.session_id === S.current) {
          status(f.mode === 'agent' && f.agent ? 'Transferred to ' + f.agent + '.' : 'The conversation is closed; the bot answers again.');
          closeView();
        }
        break;
      case 'ack':
        if (f.reply_to && S.pending[f.reply_to] != null) {
          showMessage({ id: f.message_id, direction: 'agent', text: S.pending[f.reply_to], agent: S.me && S.me.agent, time: new Date().toISOString(), buttons: [] });
          delete S.pending[f.reply_to];
        }
        break;
      case 'error':
        if (f.code === 'token_revoked') signedOut();
        else if (f.code === 'unauthorized' || f.code.indexOf('token') === 0) { logout(); $('ib-login-error').textContent = f.detail; }
        else status('Not done: ' + f.detail);
        break;
      default: break;
    }
  }

  // -- lists ---------------------------------------------------------------------------------

  function renderQueue(items) {
    var list = $('ib-queue');
    list.textContent = '';
    $('ib-queue-count').textContent = String(items.length);
    $('ib-queue-empty').hidden = items.length > 0;
    items.forEach(function (item) {
      var li = el('li', 'ib-item' + (item.session_id === S.current ? ' ib-item--current' : ''));
      li.appendChild(el('p', null, item.reason || 'Asked for a person'));
      li.appendChild(el('p', 'ib-muted', 'Waiting since ' + clock(item.since)));
      item.last_messages.filter(function (m) { return m.direction === 'in'; }).slice(-2).forEach(function (m) {
        li.appendChild(el('p', 'ib-quote', '\u201c' + m.text + '\u201d'));
      });
      var row = el('div', 'ib-row');
      var look = el('button', 'ib-btn ib-btn--quiet', 'Open');
      look.type = 'button';
      look.setAttribute('aria-label', 'Open the conversation: ' + (item.reason || 'waiting'));
      look.addEventListener('click', function () { openConversation(item.session_id); });
      var take = el('button', 'ib-btn', 'Take');
      take.type = 'button';
      take.setAttribute('aria-label', 'Take the conversation: ' + (item.reason || 'waiting'));
      take.addEventListener('click', function () { send({ type: 'take', session_id: item.session_id }); });
      row.appendChild(look);
      row.appendChild(take);
      li.appendChild(row);
      list.appendChild(li);
    });
  }

  function refreshMine() {
    api('/api/inbox/mine').then(function (ids) {
      S.mine = ids;
      var list = $('ib-mine');
      list.textContent = '';
      $('ib-mine-empty').hidden = ids.length > 0;
      ids.forEach(function (id, i) {
        var li = el('li', 'ib-item' + (id === S.current ? ' ib-item--current' : ''));
        var open = el('button', 'ib-btn ib-btn--quiet', 'Conversation ' + (i + 1));
        open.type = 'button';
        open.addEventListener('click', function () { openConversation(id); });
        li.appendChild(open);
        list.appendChild(li);
      });
    }).catch(function () {});
  }

  function refreshTickets() {
    api('/api/inbox/tickets').then(function (tickets) {
      var list = $('ib-tickets');
      list.textContent = '';
      $('ib-tickets-empty').hidden = tickets.length > 0;
      tickets.forEach(function (t) {
        var li = el('li', 'ib-item');
        li.appendChild(el('p', null, t.email));
        li.appendChild(el('p', 'ib-quote', t.text));
        li.appendChild(el('p', 'ib-muted', clock(t.created_at) + (t.reason ? ' \u00b7 ' + t.reason : '')));
        var done = el('button', 'ib-btn ib-btn--quiet', 'Mark done');
        done.type = 'button';
        done.setAttribute('aria-label', 'Mark done: the message from ' + t.email);
        done.addEventListener('click', function () {
          api('/api/inbox/tickets/' + t.id + '/close', { method: 'POST' }).then(refreshTickets, refreshTickets);
        });
        li.appendChild(done);
        list.appendChild(li);
      });
    }).catch(function () {});
  }

  function refreshAgents() {
    api('/api/inbox/agents').then(function (agents) {
      S.agents = agents;
      var select = $('ib-transfer-to');
      select.textContent = '';
      agents.filter(function (a) { return !S.me || a.id !== S.me.user_id; }).forEach(function (a) {
        var option = el('option', null, a.username + (a.online ? ' (online)' : ' (offline)'));
        option.value = String(a.id);
        select.appendChild(option);
      });
    }).catch(function () {});
  }

  // -- the open conversation -----------------------------------------------------------------

  function openConversation(id) {
    S.current = id;
    api('/api/inbox/sessions/' + encodeURIComponent(id)).then(renderView, function () {
      if (S.current === id) closeView();
    });
  }

  function renderView(view) {
    S.view = view;
    S.shown = new Set();
    var holding = view.mode === 'agent' && S.me && view.agent === S.me.agent;
    $('ib-conv-title').textContent = holding ? 'Your conversation' : (view.mode === 'waiting' ? 'Waiting conversation' : 'Conversation');
    $('ib-hint').hidden = true;
    $('ib-conv-body').hidden = false;
    $('ib-reason').textContent = view.reason ? 'Why: ' + view.reason : '';
    var slots = $('ib-slots');
    slots.textContent = '';
    Object.keys(view.slots).forEach(function (name) {
      slots.appendChild(el('dt', null, name));
      slots.appendChild(el('dd', null, String(view.slots[name])));
    });
    $('ib-slots-none').hidden = Object.keys(view.slots).length > 0;
    var intents = $('ib-intents');
    intents.textContent = '';
    view.intents.forEach(function (pair) { intents.appendChild(el('li', null, pair[0] + ' \u00d7' + pair[1])); });
    if (!view.intents.length) intents.appendChild(el('li', 'ib-muted', 'none'));
    $('ib-log').textContent = '';
    view.messages.forEach(showMessage);
    $('ib-actions').hidden = !holding;
    $('ib-take').hidden = view.mode !== 'waiting';
    document.querySelectorAll('.ib-item--current').forEach(function (n) { n.classList.remove('ib-item--current'); });
    if (holding) $('ib-text').focus();
  }

  function closeView() {
    S.current = null;
    S.view = null;
    $('ib-conv-title').textContent = 'No conversation open';
    $('ib-hint').hidden = false;
    $('ib-conv-body').hidden = true;
  }

  function showMessage(m) {
    if (S.shown.has(m.id)) return;
    S.shown.add(m.id);
    var who = m.direction === 'in' ? 'User' : (m.direction === 'agent' ? (m.agent || 'Agent') : 'Bot');
    var node = el('div', 'ib-msg ib-msg--' + m.direction);
    node.appendChild(el('span', 'ib-who', who + ' \u00b7 ' + clock(m.time) + (m.intent && m.direction === 'in' ? ' \u00b7 ' + m.intent : '')));
    node.appendChild(document.createTextNode(m.text));
    showRich(node, m);
    if (m.buttons && m.buttons.length) {
      node.appendChild(el('span', 'ib-who', 'Buttons: ' + m.buttons.map(function (b) { return b.title; }).join(', ')));
    }
    var log = $('ib-log');
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    if (m.direction === 'in') $('ib-typing').textContent = '';
  }

  /** A bot reply's picture (with its alt text) and link card, as the user saw them; text only as text. */
  function showRich(node, m) {
    var image = m.image && safeUrl(m.image.url);
    if (image) {
      var img = el('img', 'ib-image');
      img.src = image;
      img.alt = typeof m.image.alt === 'string' ? m.image.alt : '';
      img.loading = 'lazy';
      img.referrerPolicy = 'no-referrer';
      node.appendChild(img);
    }
    var href = m.link && safeUrl(m.link.url);
    if (href && typeof m.link.title === 'string') {
      var card = el('a', 'ib-card');
      card.href = href;
      card.target = '_blank';
      card.rel = 'noopener noreferrer';
      card.appendChild(el('span', 'ib-card-title', m.link.title));
      if (typeof m.link.description === 'string' && m.link.description) card.appendChild(el('span', 'ib-card-desc', m.link.description));
      card.appendChild(el('span', 'ib-card-host', new URL(href).hostname));
      card.appendChild(el('span', 'ib-sr', ' (opens in a new tab)'));
      node.appendChild(card);
    }
  }

  function userTyping() {
    $('ib-typing').textContent = 'The user is typing\u2026';
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(function () { $('ib-typing').textContent = ''; }, 4000);
  }

  $('ib-take').addEventListener('click', function () {
    if (S.current) send({ type: 'take', session_id: S.current });
  });

  $('ib-composer').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = $('ib-text').value.trim();
    if (!text || !S.current) return;
    var buttons = $('ib-buttons').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean)
      .slice(0, 8).map(function (title) { return { title: title, payload: title }; });
    var id = newId();
    if (send({ type: 'reply', session_id: S.current, text: text, buttons: buttons, id: id })) {
      S.pending[id] = text;
      $('ib-text').value = '';
      $('ib-buttons').value = '';
    }
  });

  $('ib-text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $('ib-composer').requestSubmit(); }
  });

  $('ib-text').addEventListener('input', function () {
    var now = Date.now();
    if (S.current && now - S.lastTyping > 2000) {
      S.lastTyping = now;
      send({ type: 'typing', session_id: S.current });
    }
  });

  $('ib-transfer').addEventListener('click', function () {
    var to = parseInt($('ib-transfer-to').value, 10);
    if (S.current && to) send({ type: 'transfer', session_id: S.current, agent_id: to });
  });

  $('ib-close').addEventListener('click', function () {
    if (S.current) send({ type: 'close', session_id: S.current });
  });

  if (S.token) start();
  else $('ib-username').focus();
})();
