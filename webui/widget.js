/*
 * The embeddable chat widget: plain JavaScript, no build step.
 *
 *   <script src="https://HOST/widget.js" data-server="wss://HOST/ws" defer></script>
 *
 * data-server      the WebSocket URL (default: ws[s]://<the script's origin>/ws)
 * data-lang        "en" or "ru" (default: the page's <html lang>, else "en"); what it says of the
 *                  conversation (a person joined, left, is typing) is in the session's language
 * data-open        "true" opens the panel at load
 * data-title       the panel's title (default "Chat with us")
 * data-bot-name    the bot's name, shown in the header and read out before its messages
 * data-avatar      an http(s) URL of the bot's picture
 * data-accent      the accent colour (any CSS colour; or set --cbw-accent in CSS)
 * data-user-token  a token the host site's backend signed for its logged-in user
 *                  (docs/privacy.md); or call ChatWidget.setUserToken(token) later
 *
 * The HTTP API (login, history) and widget.css are taken from where the script came from
 * (its origin, or the same path prefix when the server sits under one).
 * The widget lives in a shadow root, so the host page's CSS does not leak in; theme it with
 * the --cbw-* custom properties (see widget.css), set on any ancestor, e.g. :root.
 *
 * Nothing typed is lost: every message has a client id and sits in an outbox (kept in
 * localStorage) until the bot's reply to that id arrives; the outbox is sent again, with the
 * same ids, after every reconnect, and replies the server marks as duplicates (or that were
 * already shown) are not shown twice. All user and bot text is rendered with textContent.
 */
(function () {
  'use strict';

  if (window.ChatWidget && window.ChatWidget.version) return; // included twice

  // -- configuration from the <script> tag ---------------------------------------------------

  function findScript() {
    var scripts = document.querySelectorAll('script[src]');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js([?#]|$)/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }

  var script = document.currentScript || findScript();
  var scriptUrl = new URL(script ? script.src : location.href, location.href);
  var data = (script && script.dataset) || {};
  // The folder widget.js came from: the server's root, or its prefix behind a proxy.
  var BASE = new URL('./', scriptUrl).href;
  var API = BASE.replace(/\/$/, '');
  var WS_URL = data.server || BASE.replace(/^http/i, 'ws') + 'ws';
  // The page's language: the widget's own words, and the session's (sent in hello) when the
  // page says it; with none the bot tells the language from the first message.
  var PAGE_LANG = data.lang || document.documentElement.lang || '';
  var LANG = /^ru/i.test(PAGE_LANG) ? 'ru' : 'en';
  var ASK_LANG = /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,5})?$/.test(PAGE_LANG) ? PAGE_LANG : null;
  var OPEN_AT_LOAD = data.open === 'true' || data.open === '';
  var MAX_CHARS = 2000;
  var RETRY_FIRST_MS = 250;
  var RETRY_MAX_MS = 5000;
  var PING_EVERY_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var CONNECT_TIMEOUT_MS = 10000;
  var SIGNED_OUT_CLOSE = 4401; // the server ended this login (docs/protocol.md): start over, send nothing more
  var HISTORY_PAGE = 200;
  var COUNT_FROM = MAX_CHARS - 200; // the character counter shows from here on
  var MAX_BUTTONS = 10;
  var GROUP_GAP_MS = 5 * 60 * 1000; // a time shown once per group of messages this close

  // -- strings ---------------------------------------------------------------------------------

  var STRINGS = {
    en: {
      widget: 'Chat',
      title: 'Chat with us',
      open: 'Open chat',
      openUnread: function (n) { return 'Open chat (' + n + (n === 1 ? ' new message)' : ' new messages)'); },
      botName: 'Assistant',
      menu: 'More options',
      download: 'Download my data',
      deleteHistory: 'Delete my history',
      confirmDelete: 'Delete all your conversations with the bot? This cannot be undone.',
      historyDeleted: 'Your conversations were deleted.',
      failedAction: 'That did not work. Try again later.',
      counter: function (n) { return n + ' / ' + MAX_CHARS; },
      tooLong: function (n) { return 'Too long by ' + n + (n === 1 ? ' character' : ' characters') + '. Shorten the message to send it.'; },
      image: 'Image: ',
      hostLoginFailed: 'The site could not sign you in to the chat; you are chatting as a guest.',
      close: 'Close chat',
      messages: 'Messages',
      empty: 'Hi! Ask a question to start the conversation.',
      inputLabel: 'Message',
      placeholder: 'Type a message…',
      inputHint: 'Press Enter to send, Shift+Enter for a new line.',
      send: 'Send',
      youSaid: 'You said:',
      botSaid: 'Bot said:',
      notice: 'Notice:',
      typing: 'The bot is typing…',
      offline: 'You are offline. Reconnecting… Messages you type will be sent when the connection is back.',
      queued: 'Waiting for the connection',
      sending: 'Sending…',
      failed: 'Not sent: ',
      suggested: 'Suggested replies',
      rate: 'Rate this reply',
      helpful: 'Helpful',
      notHelpful: 'Not helpful',
      login: 'Log in',
      logout: 'Log out',
      register: 'Create account',
      cancel: 'Cancel',
      authTitle: 'Log in or create an account',
      username: 'User name',
      password: 'Password',
      loggedInAs: 'Logged in as ',
      loggedIn: 'You are logged in as ',
      loggedOut: 'You are logged out.',
      signedOut: 'You were signed out: this login was ended elsewhere (a logout, a password change or a deleted account). Log in again to continue.',
      relogin: 'Your login is no longer valid. Please log in again.',
      newConversation: 'A new conversation has started.',
      badCredentials: 'Wrong user name or password.',
      nameTaken: 'This user name is taken.',
      cannotRegister: 'Cannot create the account: ',
      tooMany: 'Too many attempts. Try again in a minute.',
      network: 'Cannot reach the server. Check the connection and try again.',
      fillIn: 'Enter a user name and a password.',
      working: 'Please wait…',
      link: ' (opens in a new tab)',
      agentJoined: '{name} from our team joined the conversation.',
      agentLeft: '{name} left the conversation.',
      agentSaid: '{name} (a person) said:',
      agentTyping: '{name} is typing…',
      person: 'Our team'
    },
    ru: {
      widget: 'Чат',
      title: 'Напишите нам',
      open: 'Открыть чат',
      openUnread: function (n) { return 'Открыть чат (новых сообщений: ' + n + ')'; },
      botName: 'Ассистент',
      menu: 'Другие действия',
      download: 'Скачать мои данные',
      deleteHistory: 'Удалить мою историю',
      confirmDelete: 'Удалить все ваши разговоры с ботом? Это нельзя отменить.',
      historyDeleted: 'Ваши разговоры удалены.',
      failedAction: 'Не получилось. Попробуйте позже.',
      counter: function (n) { return n + ' / ' + MAX_CHARS; },
      tooLong: function (n) { return 'Слишком длинно на ' + n + ' симв. Сократите сообщение, чтобы отправить.'; },
      image: 'Изображение: ',
      hostLoginFailed: 'Сайт не смог авторизовать вас в чате; вы общаетесь как гость.',
      close: 'Закрыть чат',
      messages: 'Сообщения',
      empty: 'Здравствуйте! Задайте вопрос, чтобы начать разговор.',
      inputLabel: 'Сообщение',
      placeholder: 'Введите сообщение…',
      inputHint: 'Enter — отправить, Shift+Enter — новая строка.',
      send: 'Отправить',
      youSaid: 'Вы написали:',
      botSaid: 'Бот ответил:',
      notice: 'Уведомление:',
      typing: 'Бот печатает…',
      offline: 'Нет связи. Переподключаемся… Новые сообщения отправятся, когда связь вернётся.',
      queued: 'Ждёт подключения',
      sending: 'Отправляется…',
      failed: 'Не отправлено: ',
      suggested: 'Варианты ответа',
      rate: 'Оцените ответ',
      helpful: 'Полезно',
      notHelpful: 'Бесполезно',
      login: 'Войти',
      logout: 'Выйти',
      register: 'Зарегистрироваться',
      cancel: 'Отмена',
      authTitle: 'Вход или регистрация',
      username: 'Имя пользователя',
      password: 'Пароль',
      loggedInAs: 'Вы вошли как ',
      loggedIn: 'Вы вошли как ',
      loggedOut: 'Вы вышли из аккаунта.',
      signedOut: 'Вы вышли из аккаунта: вход завершён в другом месте (выход, смена пароля или удаление аккаунта). Войдите снова, чтобы продолжить.',
      relogin: 'Вход больше не действителен. Войдите снова.',
      newConversation: 'Начат новый разговор.',
      badCredentials: 'Неверное имя пользователя или пароль.',
      nameTaken: 'Это имя пользователя уже занято.',
      cannotRegister: 'Не удалось создать аккаунт: ',
      tooMany: 'Слишком много попыток. Попробуйте через минуту.',
      network: 'Сервер недоступен. Проверьте подключение и попробуйте снова.',
      fillIn: 'Введите имя пользователя и пароль.',
      working: 'Подождите…',
      link: ' (откроется в новой вкладке)',
      agentJoined: '{name} из нашей команды присоединяется к разговору.',
      agentLeft: '{name} покинул(а) разговор.',
      agentSaid: '{name} (сотрудник) написал(а):',
      agentTyping: '{name} печатает…',
      person: 'Наша команда'
    }
  };
  var T = STRINGS[LANG];
  var BOT_NAME = (data.botName || '').trim() || T.botName;
  var TITLE = (data.title || '').trim() || T.title;

  // -- storage (localStorage, or memory where it is unavailable) --------------------------------

  var PREFIX = 'chatwidget:' + WS_URL + ':';
  var memory = {};
  var store = {
    get: function (key) {
      try {
        var raw = window.localStorage.getItem(PREFIX + key);
        return raw == null ? null : JSON.parse(raw);
      } catch (e) {
        return key in memory ? memory[key] : null;
      }
    },
    set: function (key, value) {
      memory[key] = value;
      try {
        if (value == null) window.localStorage.removeItem(PREFIX + key);
        else window.localStorage.setItem(PREFIX + key, JSON.stringify(value));
      } catch (e) { /* private mode, quota: memory only */ }
    }
  };
  var session = {
    get: function (key) {
      try { return window.sessionStorage.getItem(PREFIX + key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.sessionStorage.setItem(PREFIX + key, value); } catch (e) { /* ignore */ }
    }
  };

  function outbox() {
    var list = store.get('outbox');
    return Array.isArray(list) ? list.filter(function (e) { return e && typeof e.id === 'string' && typeof e.text === 'string'; }) : [];
  }
  function setOutbox(list) { store.set('outbox', list.length ? list : null); }
  function outboxAdd(entry) {
    var list = outbox();
    if (!list.some(function (e) { return e.id === entry.id; })) list.push(entry);
    setOutbox(list);
  }
  function outboxRemove(id) {
    setOutbox(outbox().filter(function (e) { return e.id !== id; }));
  }
  function inOutbox(id) {
    return outbox().some(function (e) { return e.id === id; });
  }

  /** Button titles shown for the payloads sent, by client id, so the history shows them too. */
  function rememberLabel(id, label) {
    var labels = store.get('labels') || {};
    labels[id] = label;
    var keys = Object.keys(labels);
    for (var i = 0; i < keys.length - 100; i++) delete labels[keys[i]];
    store.set('labels', labels);
  }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      try { return window.crypto.randomUUID(); } catch (e) { /* insecure context */ }
    }
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }

  // -- state -----------------------------------------------------------------------------------

  var S = {
    open: false,
    ws: null,
    lang: null,           // the session's language (its `session` frame), when the widget has words in it
    ready: false,         // the server's `session` frame arrived on this connection
    helloSent: false,
    everOnline: false,
    attempts: 0,
    retryTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    sessionId: store.get('session'),
    token: store.get('token'),
    user: store.get('user'),
    historyLoaded: false,
    openedAt: 0,          // when this connection opened (a long-lived one resets the back-off)
    inflight: new Set(),  // client ids sent on this connection, reply pending
    answered: new Set(),  // client ids that got a reply (shown or in the history)
    shown: new Set(),     // message_ids of bot replies on screen
    feedback: new Map(),  // message_id -> value not yet sent
    retries: new Map(),   // client id -> timer, after rate_limited / unavailable
    userRows: new Map(),  // client id -> the user's message row
    unread: 0,            // bot messages arrived while closed
    authBusy: false,
    userToken: null,      // the host site's token, until exchanged
    lastTime: 0,          // when the last message on screen was sent (for grouping times)
    latestBot: null       // the latest bot message with thumbs
  };
  var given = typeof data.userToken === 'string' ? data.userToken.trim() : '';
  if (given && given !== store.get('hostToken')) S.userToken = given; // not yet exchanged

  // -- DOM helpers (no innerHTML anywhere) -------------------------------------------------------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value == null || value === false) return;
        if (key === 'text') el.textContent = value;
        else if (key.slice(0, 2) === 'on') el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? '' : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child == null || child === false) continue;
      el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return el;
  }

  var ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    close: 'M6 6l12 12M18 6L6 18',
    more: 'M5 10.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm7 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm7 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3z',
    send: 'M3 11.5L21 3l-8.5 18-2-7.5z',
    up: 'M7 10v11H3V10zm2 11h9.3a2 2 0 0 0 2-1.6l1.5-7A2 2 0 0 0 19.8 10H14V5.5A2.5 2.5 0 0 0 11.5 3L9 10z',
    down: 'M7 14V3H3v11zm2-11h9.3a2 2 0 0 1 2 1.6l1.5 7a2 2 0 0 1-2 2.4H14v4.5a2.5 2.5 0 0 1-2.5 2.5L9 14z'
  };

  function icon(name) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'cbw-icon cbw-icon--' + name);
    var path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

  /** Append text to el, with http(s) URLs as links; every piece is a text node. */
  function appendRichText(el, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var raw = match[0];
      // Trailing punctuation belongs to the sentence; a ')' only when unbalanced.
      while (/[.,;:!?'"\]}>]$/.test(raw) || (/\)$/.test(raw) && raw.split('(').length < raw.split(')').length)) {
        raw = raw.slice(0, -1);
      }
      var href = null;
      try {
        var url = new URL(raw);
        if (url.protocol === 'http:' || url.protocol === 'https:') href = url.href;
      } catch (e) { href = null; }
      if (!href) continue;
      if (match.index > last) el.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      a.textContent = raw;
      a.appendChild(h('span', { class: 'cbw-sr', text: T.link }));
      el.appendChild(a);
      last = match.index + raw.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  }

  /** An http(s) URL as a string, or null: nothing else becomes a link or a picture. */
  function safeUrl(value) {
    if (typeof value !== 'string' || !value) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (e) { return null; }
  }

  function parseTime(value) {
    if (!value) return new Date();
    var s = String(value);
    // A time without a zone is UTC (the server logs UTC).
    if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s += 'Z';
    var d = new Date(s);
    return isNaN(d.getTime()) ? new Date() : d;
  }

  function timeElement(date) {
    var now = new Date();
    var opts = { hour: '2-digit', minute: '2-digit' };
    if (date.toDateString() !== now.toDateString()) {
      opts.day = 'numeric';
      opts.month = 'short';
    }
    var label;
    try { label = date.toLocaleString(LANG, opts); } catch (e) { label = date.toISOString().slice(11, 16); }
    return h('time', { class: 'cbw-time', datetime: date.toISOString(), text: label });
  }

  // -- building the widget -----------------------------------------------------------------------

  var host = h('div', { id: 'chatwidget-host', 'data-chatwidget': '' });
  var shadow = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
  var stylesheet = h('link', { rel: 'stylesheet', href: BASE + 'widget.css' + scriptUrl.search });

  var launcher = h('button', {
    type: 'button', class: 'cbw-launcher', 'aria-controls': 'cbw-panel', 'aria-expanded': 'false', 'aria-label': T.open,
    onclick: function () { toggle(); }
  }, icon('chat'), icon('close'), h('span', { class: 'cbw-badge', 'aria-hidden': 'true' }));
  var badge = launcher.querySelector('.cbw-badge');

  var titleEl = h('h2', { class: 'cbw-title', id: 'cbw-title', text: TITLE });
  var avatarUrl = safeUrl(data.avatar);
  var avatarEl = avatarUrl ? h('img', { class: 'cbw-avatar', src: avatarUrl, alt: '' }) : h('span', { class: 'cbw-avatar cbw-avatar--initial', 'aria-hidden': 'true', text: BOT_NAME.charAt(0).toUpperCase() });
  var nameEl = h('p', { class: 'cbw-botname', text: BOT_NAME });
  var whoEl = h('p', { class: 'cbw-who', hidden: true });
  var loginBtn = h('button', { type: 'button', class: 'cbw-btn cbw-btn--header', text: T.login, 'aria-controls': 'cbw-auth', 'aria-expanded': 'false', onclick: function () { showAuth(authForm.hidden); } });
  var logoutBtn = h('button', { type: 'button', class: 'cbw-btn cbw-btn--header', text: T.logout, hidden: true, onclick: function () { logout(); } });
  var downloadBtn = h('button', { type: 'button', class: 'cbw-menu-item', text: T.download, onclick: function () { showMenu(false); downloadData(); } });
  var deleteBtn = h('button', { type: 'button', class: 'cbw-menu-item cbw-menu-item--danger', text: T.deleteHistory, onclick: function () { showMenu(false); deleteHistory(); } });
  var menuEl = h('div', { class: 'cbw-menu', id: 'cbw-menu', hidden: true }, downloadBtn, deleteBtn);
  var menuBtn = h('button', { type: 'button', class: 'cbw-icon-btn', 'aria-label': T.menu, 'aria-controls': 'cbw-menu', 'aria-expanded': 'false', hidden: true,
    onclick: function () { showMenu(menuEl.hidden); } }, icon('more'));
  var closeBtn = h('button', { type: 'button', class: 'cbw-icon-btn', 'aria-label': T.close, onclick: function () { close(true); } }, icon('close'));
  var header = h('div', { class: 'cbw-header' },
    avatarEl,
    h('div', { class: 'cbw-heading' }, titleEl, nameEl, whoEl),
    h('div', { class: 'cbw-header-actions' }, loginBtn, logoutBtn, menuBtn, closeBtn),
    menuEl);

  var banner = h('div', { class: 'cbw-banner', role: 'status' });

  var userInput = h('input', { id: 'cbw-user', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', maxlength: '64', required: true });
  var passInput = h('input', { id: 'cbw-pass', name: 'password', type: 'password', autocomplete: 'current-password', maxlength: '256', required: true });
  var authError = h('p', { class: 'cbw-auth-error', role: 'alert' });
  var authLoginBtn = h('button', { type: 'submit', class: 'cbw-btn cbw-btn--primary', text: T.login });
  var authRegisterBtn = h('button', { type: 'button', class: 'cbw-btn', text: T.register, onclick: function () { submitAuth('register'); } });
  var authCancelBtn = h('button', { type: 'button', class: 'cbw-btn cbw-btn--link', text: T.cancel, onclick: function () { showAuth(false); } });
  var authForm = h('form', { class: 'cbw-auth', id: 'cbw-auth', hidden: true, novalidate: true, 'aria-labelledby': 'cbw-auth-title',
    onsubmit: function (ev) { ev.preventDefault(); submitAuth('login'); } },
    h('h3', { class: 'cbw-auth-title', id: 'cbw-auth-title', text: T.authTitle }),
    h('div', { class: 'cbw-field' }, h('label', { for: 'cbw-user', text: T.username }), userInput),
    h('div', { class: 'cbw-field' }, h('label', { for: 'cbw-pass', text: T.password }), passInput),
    authError,
    h('div', { class: 'cbw-auth-actions' }, authLoginBtn, authRegisterBtn, authCancelBtn));

  var emptyEl = h('p', { class: 'cbw-empty', text: T.empty });
  var log = h('div', { class: 'cbw-log', id: 'cbw-log', role: 'region', 'aria-label': T.messages, tabindex: '0' }, emptyEl);
  var typingEl = h('div', { class: 'cbw-typing', hidden: true },
    h('span', { class: 'cbw-dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')),
    h('span', { class: 'cbw-typing-text', text: T.typing }));

  // No maxlength: a long paste is kept whole and the counter says how much to cut.
  var input = h('textarea', { id: 'cbw-input', class: 'cbw-input', rows: '1', placeholder: T.placeholder,
    'aria-describedby': 'cbw-hint cbw-count', autocomplete: 'off', enterkeyhint: 'send' });
  var counterEl = h('span', { class: 'cbw-count', id: 'cbw-count', 'aria-live': 'polite' });
  var sendBtn = h('button', { type: 'submit', class: 'cbw-send', 'aria-label': T.send }, icon('send'));
  var composer = h('form', { class: 'cbw-composer', novalidate: true, onsubmit: function (ev) { ev.preventDefault(); submitInput(); } },
    h('label', { class: 'cbw-sr', for: 'cbw-input', text: T.inputLabel }),
    input,
    h('span', { class: 'cbw-sr', id: 'cbw-hint', text: T.inputHint }),
    counterEl,
    sendBtn);

  var live = h('div', { class: 'cbw-sr cbw-live', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  var chatArea = h('div', { class: 'cbw-chat' }, log, typingEl, composer);

  var panel = h('div', { class: 'cbw-panel', id: 'cbw-panel', role: 'dialog', 'aria-labelledby': 'cbw-title', hidden: true },
    header, banner, authForm, chatArea);
  var root = h('aside', { class: 'cbw', lang: LANG, 'aria-label': T.widget }, panel, launcher, live);
  if (data.accent && window.CSS && CSS.supports('color', data.accent)) root.style.setProperty('--cbw-accent', data.accent);
  root.style.visibility = 'hidden'; // until widget.css is in (CSSOM, not an inline style attribute)

  function showRoot() { root.style.visibility = ''; }
  stylesheet.addEventListener('load', showRoot);
  stylesheet.addEventListener('error', showRoot);
  setTimeout(showRoot, 3000);

  shadow.appendChild(stylesheet);
  shadow.appendChild(root);

  // -- panel, focus and keyboard -----------------------------------------------------------------

  function open(focus) {
    if (S.open) { if (focus) input.focus(); return; }
    S.open = true;
    session.set('open', '1');
    panel.hidden = false;
    root.classList.add('cbw--open');
    launcher.setAttribute('aria-expanded', 'true');
    launcher.setAttribute('aria-label', T.close);
    setUnread(0);
    if (!S.historyLoaded) {
      // Offline at load: what is still to be sent stays on screen; the log comes after reconnecting.
      loadHistory().catch(function () { S.historyLoaded = false; renderPending(); });
    }
    connect();
    scrollToEnd(true);
    if (focus) (authForm.hidden ? input : userInput).focus();
  }

  function close(returnFocus) {
    if (!S.open) return;
    S.open = false;
    session.set('open', '0');
    panel.hidden = true;
    root.classList.remove('cbw--open');
    launcher.setAttribute('aria-expanded', 'false');
    showMenu(false);
    setUnread(0);
    if (returnFocus) launcher.focus();
  }

  function toggle() { if (S.open) close(true); else open(true); }

  function setUnread(count) {
    S.unread = S.open ? 0 : count;
    root.classList.toggle('cbw--unread', S.unread > 0);
    // The count is drawn by CSS (attr()): the launcher's name says it in words.
    badge.setAttribute('data-count', S.unread > 9 ? '9+' : String(S.unread));
    launcher.setAttribute('aria-label', S.open ? T.close : S.unread ? T.openUnread(S.unread) : T.open);
  }

  function showMenu(show) {
    menuEl.hidden = !show;
    menuBtn.setAttribute('aria-expanded', String(show));
    if (show) downloadBtn.focus();
  }

  root.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Escape' || !S.open) return;
    if (!authForm.hidden) { ev.preventDefault(); showAuth(false); return; }
    if (!menuEl.hidden) { ev.preventDefault(); showMenu(false); menuBtn.focus(); return; }
    if (panel.contains(ev.target) || ev.target === launcher) { ev.preventDefault(); close(true); }
  });

  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      submitInput();
    }
  });
  input.addEventListener('input', function () { autosize(); updateCounter(); });
  input.addEventListener('input', typingToPerson);

  /** Near the limit, "1,850 / 2,000"; over it, how much to cut, and sending waits. */
  function updateCounter() {
    var n = input.value.length;
    var over = n - MAX_CHARS;
    counterEl.textContent = over > 0 ? T.tooLong(over) : n >= COUNT_FROM ? T.counter(n) : '';
    counterEl.classList.toggle('cbw-count--over', over > 0);
    if (over > 0) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  }

  function submitInput() {
    var text = input.value;
    if (!text.trim() || text.length > MAX_CHARS) { updateCounter(); input.focus(); return; }
    input.value = '';
    autosize();
    updateCounter();
    sendMessage(text, null);
    input.focus();
  }

  // -- the message list --------------------------------------------------------------------------

  function nearEnd() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }

  function scrollToEnd(force) {
    if (force || nearEnd()) log.scrollTop = log.scrollHeight;
  }

  /** Add a row; a time goes above it when it starts a group (first, or GROUP_GAP_MS after the last). */
  function append(row, date) {
    var stick = nearEnd();
    if (emptyEl.parentNode) emptyEl.remove();
    if (date) {
      var t = date.getTime();
      if (!S.lastTime || t - S.lastTime > GROUP_GAP_MS || new Date(S.lastTime).toDateString() !== date.toDateString()) {
        log.appendChild(h('p', { class: 'cbw-when' }, timeElement(date)));
      }
      S.lastTime = Math.max(S.lastTime, t);
    }
    log.appendChild(row);
    scrollToEnd(stick);
  }

  function announce(text) {
    var p = h('p', { text: text });
    live.appendChild(p);
    while (live.childNodes.length > 4) live.removeChild(live.firstChild);
  }

  function renderUser(clientId, text, date, status) {
    var statusEl = h('span', { class: 'cbw-status' });
    var body = h('span', { class: 'cbw-text' });
    appendRichText(body, text);
    var row = h('div', { class: 'cbw-msg cbw-msg--user', 'data-client-id': clientId || null },
      h('div', { class: 'cbw-bubble' }, h('span', { class: 'cbw-sr', text: T.youSaid + ' ' }), body),
      h('div', { class: 'cbw-meta' }, statusEl));
    if (clientId) S.userRows.set(clientId, row);
    setStatus(row, status);
    append(row, date);
    return row;
  }

  function setStatus(rowOrId, status, detail) {
    var row = typeof rowOrId === 'string' ? S.userRows.get(rowOrId) : rowOrId;
    if (!row) return;
    var el = row.querySelector('.cbw-status');
    row.classList.toggle('cbw-msg--pending', status === 'queued' || status === 'sending');
    row.classList.toggle('cbw-msg--failed', status === 'failed');
    el.textContent = status === 'queued' ? T.queued : status === 'sending' ? T.sending : status === 'failed' ? T.failed + (detail || '') : '';
  }

  function renderBot(m, opts) {
    var body = h('span', { class: 'cbw-text' });
    appendRichText(body, m.text);
    var bubble = h('div', { class: 'cbw-bubble' }, h('span', { class: 'cbw-sr', text: BOT_NAME + ': ' }), body);
    var row = h('div', { class: 'cbw-msg cbw-msg--bot', 'data-message-id': m.messageId == null ? null : String(m.messageId) }, bubble);
    var image = m.image && safeUrl(m.image.url);
    if (image) {
      var alt = typeof m.image.alt === 'string' ? m.image.alt : '';
      bubble.appendChild(h('img', { class: 'cbw-image', src: image, alt: alt, loading: 'lazy', referrerpolicy: 'no-referrer' }));
    }
    var linkUrl = m.link && safeUrl(m.link.url);
    if (linkUrl && typeof m.link.title === 'string') {
      var card = h('a', { class: 'cbw-card', href: linkUrl, target: '_blank', rel: 'noopener noreferrer' },
        h('span', { class: 'cbw-card-title', text: m.link.title }),
        typeof m.link.description === 'string' && m.link.description ? h('span', { class: 'cbw-card-desc', text: m.link.description }) : null,
        h('span', { class: 'cbw-card-host', text: new URL(linkUrl).hostname }),
        h('span', { class: 'cbw-sr', text: T.link }));
      row.appendChild(card);
    }
    var meta = h('div', { class: 'cbw-meta' });
    if (m.messageId != null) {
      meta.appendChild(feedbackGroup(m.messageId, m.feedback || 0));
      if (S.latestBot) S.latestBot.classList.remove('cbw-msg--latest');
      row.classList.add('cbw-msg--latest');
      S.latestBot = row;
    }
    row.appendChild(meta);
    var buttons = (m.buttons || []).slice(0, MAX_BUTTONS);
    if (buttons.length && opts.buttons) {
      var group = h('div', { class: 'cbw-quick', role: 'group', 'aria-label': T.suggested });
      buttons.forEach(function (b) {
        group.appendChild(h('button', { type: 'button', class: 'cbw-chip', text: b.title, onclick: function () { sendMessage(b.payload, b.title); input.focus(); } }));
      });
      row.appendChild(group);
    }
    if (m.messageId != null) S.shown.add(m.messageId);
    append(row, m.date);
    if (opts.announce) {
      var said = BOT_NAME + ': ' + m.text;
      if (image && m.image.alt) said += ' ' + T.image + m.image.alt + '.';
      if (linkUrl && m.link.title) said += ' ' + m.link.title + '.';
      if (buttons.length && opts.buttons) said += ' ' + T.suggested + ': ' + buttons.map(function (b) { return b.title; }).join(', ') + '.';
      announce(said);
      if (!S.open) setUnread(S.unread + 1);
    }
    return row;
  }

  function renderNotice(text, lang) {
    var said = lang ? h('span', { lang: lang }, text) : text; // a line in the session's language, not the page's
    append(h('div', { class: 'cbw-msg cbw-msg--notice' }, h('p', { class: 'cbw-notice' }, h('span', { class: 'cbw-sr', text: T.notice + ' ' }), said)));
    announce(text);
  }

  function feedbackGroup(messageId, value) {
    var up = h('button', { type: 'button', class: 'cbw-fb cbw-fb--up', 'aria-label': T.helpful, 'aria-pressed': String(value === 1) }, icon('up'));
    var down = h('button', { type: 'button', class: 'cbw-fb cbw-fb--down', 'aria-label': T.notHelpful, 'aria-pressed': String(value === -1) }, icon('down'));
    function choose(v) {
      var current = up.getAttribute('aria-pressed') === 'true' ? 1 : down.getAttribute('aria-pressed') === 'true' ? -1 : 0;
      var next = current === v ? 0 : v;
      up.setAttribute('aria-pressed', String(next === 1));
      down.setAttribute('aria-pressed', String(next === -1));
      S.feedback.set(messageId, next);
      flushFeedback();
    }
    up.addEventListener('click', function () { choose(1); });
    down.addEventListener('click', function () { choose(-1); });
    return h('span', { class: 'cbw-feedback', role: 'group', 'aria-label': T.rate }, up, down);
  }

  function removeQuickReplies() {
    var groups = log.querySelectorAll('.cbw-quick');
    for (var i = 0; i < groups.length; i++) groups[i].remove();
  }

  function clearLog() {
    while (log.firstChild) log.removeChild(log.firstChild);
    log.appendChild(emptyEl);
    S.userRows.clear();
    S.shown.clear();
    S.answered.clear();
    S.lastTime = 0;
    S.latestBot = null;
    typingEl.hidden = true;
  }

  function hasConversation() { return log.querySelector('.cbw-msg--user, .cbw-msg--bot') !== null; }

  function updateTyping() {
    typingEl.hidden = !(S.ready && S.inflight.size > 0);
    if (!typingEl.hidden) scrollToEnd(false);
  }

  // -- sending -----------------------------------------------------------------------------------

  function isOpenSocket() { return S.ws && S.ws.readyState === 1; }

  function sendFrame(frame) {
    if (!isOpenSocket()) return false;
    try { S.ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }

  function sendHello() {
    var frame = { type: 'hello', session_id: S.sessionId || null, token: S.token || null, lang: ASK_LANG };
    if (S.userToken) frame.user_token = S.userToken; // wins over `token`: the site says who this is
    S.helloSent = sendFrame(frame);
  }

  function sendMessage(text, label) {
    if (!text || !String(text).trim()) return;
    var entry = { id: newId(), text: String(text), label: label || null, at: new Date().toISOString() };
    outboxAdd(entry);
    if (entry.label) rememberLabel(entry.id, entry.label);
    removeQuickReplies();
    renderUser(entry.id, entry.label || entry.text, new Date(entry.at), 'queued');
    scrollToEnd(true);
    if (S.ready) transmit(entry);
    else if (isOpenSocket()) { if (!S.helloSent) sendHello(); }
    else connect();
  }

  function transmit(entry) {
    if (!S.ready || S.inflight.has(entry.id) || S.retries.has(entry.id)) return;
    if (sendFrame({ type: 'message', text: entry.text, id: entry.id })) {
      S.inflight.add(entry.id);
      setStatus(entry.id, 'sending');
      updateTyping();
    }
  }

  function flushOutbox() {
    if (!S.ready) return;
    outbox().forEach(function (entry) {
      if (!S.userRows.has(entry.id) && !S.answered.has(entry.id)) renderUser(entry.id, entry.label || entry.text, parseTime(entry.at), 'queued');
      transmit(entry);
    });
  }

  function flushFeedback() {
    if (!S.ready) return;
    S.feedback.forEach(function (value, messageId) {
      if (sendFrame({ type: 'feedback', message_id: messageId, value: value })) S.feedback.delete(messageId);
    });
  }

  function settle(clientId) {
    S.answered.add(clientId);
    S.inflight.delete(clientId);
    var timer = S.retries.get(clientId);
    if (timer) { clearTimeout(timer); S.retries.delete(clientId); }
    outboxRemove(clientId);
    setStatus(clientId, 'done');
    updateTyping();
  }

  // -- the connection ----------------------------------------------------------------------------

  /** Say hello when there is a session to resume, someone to log in, or the panel is open (the welcome). */
  function wantHello() { return !!(S.sessionId || S.token || S.userToken || S.open || outbox().length); }

  function connect() {
    if (S.ws && (S.ws.readyState === 0 || S.ws.readyState === 1)) return;
    clearTimeout(S.retryTimer);
    S.retryTimer = 0;
    var sock;
    try {
      sock = new WebSocket(WS_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    S.ws = sock;
    S.ready = false;
    S.helloSent = false;
    S.openedAt = 0;
    var opening = setTimeout(function () { if (sock === S.ws && sock.readyState === 0) lost(4001); }, CONNECT_TIMEOUT_MS);
    sock.onopen = function () {
      clearTimeout(opening);
      if (sock !== S.ws) return;
      S.everOnline = true;
      S.openedAt = Date.now();
      updateBanner();
      startHeartbeat();
      if (wantHello()) sendHello();
    };
    sock.onmessage = function (ev) {
      if (sock !== S.ws) return;
      gotFrame();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame === 'object') handleFrame(frame, sock);
    };
    sock.onclose = function (ev) {
      clearTimeout(opening);
      if (sock !== S.ws) return;
      if (ev.code === SIGNED_OUT_CLOSE) signedOut();
      else lost(ev.code);
    };
  }

  function lost(code) {
    var sock = S.ws;
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = null;
      try { sock.close(); } catch (e) { /* already closed */ }
    }
    S.ws = null;
    S.ready = false;
    S.helloSent = false;
    S.inflight.clear();
    stopHeartbeat();
    S.retries.forEach(function (timer) { clearTimeout(timer); });
    S.retries.clear();
    outbox().forEach(function (entry) { setStatus(entry.id, 'queued'); });
    updateTyping();
    updateBanner(true);
    if (S.openedAt && Date.now() - S.openedAt > 5000) S.attempts = 0; // it had been working
    S.openedAt = 0;
    if (code === 1008 || code === 1013) S.attempts = Math.max(S.attempts, 5); // refused: no hammering
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(S.retryTimer);
    var base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, S.attempts));
    var delay = base / 2 + Math.random() * base / 2; // "equal jitter"
    S.attempts += 1;
    S.retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (S.ws && (S.ws.readyState === 0 || S.ws.readyState === 1)) return;
    if (!S.everOnline && !S.open && !outbox().length) return;
    S.attempts = 0;
    connect();
  }

  /** Drop the current connection on purpose (login, logout) and open a new one at once. */
  function reopen() {
    var sock = S.ws;
    S.ws = null;
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = null;
      try { sock.close(1000); } catch (e) { /* ignore */ }
    }
    S.ready = false;
    S.helloSent = false;
    S.inflight.clear();
    stopHeartbeat();
    S.attempts = 0;
    connect();
  }

  function startHeartbeat() {
    stopHeartbeat();
    S.pingTimer = setInterval(function () {
      if (!sendFrame({ type: 'ping' })) return;
      clearTimeout(S.pongTimer);
      S.pongTimer = setTimeout(function () { lost(4000); }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }
  function stopHeartbeat() { clearInterval(S.pingTimer); clearTimeout(S.pongTimer); }
  function gotFrame() { clearTimeout(S.pongTimer); }

  function updateBanner(closed) {
    var offline = !isOpenSocket() && (S.everOnline || closed || S.attempts > 0);
    banner.textContent = offline ? T.offline : '';
    root.classList.toggle('cbw--offline', offline);
  }

  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) reconnectNow(); });

  // -- frames from the server --------------------------------------------------------------------

  function handleFrame(f, sock) {
    switch (f.type) {
      case 'session': onSession(f, sock); break;
      case 'typing': if (f.reply_to && S.inflight.has(f.reply_to)) { typingEl.hidden = false; scrollToEnd(false); } break;
      case 'reply': onReply(f); break;
      case 'error': onError(f); break;
      case 'received': case 'agent_joined': case 'agent_left': case 'agent_message': case 'agent_typing':
        onPersonFrame(f); break;
      default: break; // pong and anything new
    }
  }

  function onSession(f, sock) {
    onPersonSession(f); // its language: the widget's own lines from now on, on this connection too
    if (S.ready && sock === S.ws && f.session_id === S.sessionId && !f.token) {
      // The session told again (its first message settled its language): nothing to resume or resend.
      return;
    }
    var previous = S.sessionId;
    S.sessionId = f.session_id;
    store.set('session', S.sessionId);
    if (typeof f.token === 'string' && f.token) {
      // The host site's token was exchanged for the bot's own: reconnects use that one.
      if (S.userToken) store.set('hostToken', S.userToken);
      S.userToken = null;
      setAuth(f.token, f.user || null);
    } else if (S.token && !f.user) setAuth(null, null); // the token went away (e.g. the /logout command)
    else if (f.user && f.user !== S.user) setAuth(S.token, f.user);
    var ready = function () {
      if (sock !== S.ws) return;
      S.historyLoaded = true;
      S.ready = true;
      S.attempts = 0;
      updateBanner();
      flushOutbox();
      flushFeedback();
    };
    if (f.resumed && (!S.historyLoaded || previous !== f.session_id)) {
      loadHistory().then(ready, ready);
      return;
    }
    if (!f.resumed && previous && previous !== f.session_id && hasConversation()) renderNotice(T.newConversation);
    ready();
  }

  function onReply(f) {
    var cid = typeof f.reply_to === 'string' ? f.reply_to : null;
    var mid = typeof f.message_id === 'number' ? f.message_id : null;
    var seen = mid != null ? S.shown.has(mid) : !!(cid && S.answered.has(cid) && (f.duplicate || !S.inflight.has(cid)));
    if (cid && !S.userRows.has(cid) && !S.answered.has(cid)) {
      // A reply to a message of ours not on screen (another tab): show it once, first.
      var entry = outbox().filter(function (e) { return e.id === cid; })[0];
      if (entry) renderUser(cid, entry.label || entry.text, parseTime(entry.at), 'done');
    }
    if (!seen) {
      var buttons = Array.isArray(f.buttons) ? f.buttons.filter(function (b) { return b && typeof b.title === 'string' && typeof b.payload === 'string'; }) : [];
      renderBot({ text: String(f.text == null ? '' : f.text), date: parseTime(f.time), messageId: mid, buttons: buttons, image: f.image, link: f.link }, { buttons: true, announce: true });
    }
    if (cid) settle(cid);
  }

  function onError(f) {
    var cid = typeof f.reply_to === 'string' ? f.reply_to : null;
    var code = f.code;
    if (typeof code === 'string' && code.indexOf('host_') === 0 && S.userToken) {
      // Expired, forged or already used: go on without it (as a guest, or with the login we have).
      S.userToken = null;
      renderNotice(T.hostLoginFailed);
      S.helloSent = false;
      sendHello();
      return;
    }
    if (code === 'token_revoked' && (S.ready || cid)) {
      // Unasked, on a working connection: the token was revoked or the account erased meanwhile.
      signedOut();
      return;
    }
    if (code === 'token_expired' || code === 'token_revoked' || code === 'token_invalid') {
      setAuth(null, null);
      S.sessionId = null;
      store.set('session', null);
      renderNotice(T.relogin);
      S.helloSent = false;
      if (wantHello()) sendHello();
      return;
    }
    if (code === 'unauthorized') {
      if (S.open) showAuth(true);
      return;
    }
    var transient = code === 'rate_limited' || code === 'unavailable' || code === 'conflict';
    if (!cid && transient && !S.ready && S.helloSent) {
      // The hello itself failed (e.g. the database is down): say hello again shortly.
      var sock = S.ws;
      setTimeout(function () { if (sock === S.ws && !S.ready) sendHello(); }, 2000 + Math.random() * 2000);
      return;
    }
    if (!cid || !inOutbox(cid)) return;
    S.inflight.delete(cid);
    if (transient) {
      setStatus(cid, 'queued');
      var wait = code === 'unavailable' ? 2000 + Math.random() * 2000 : 500 + Math.random() * 1000;
      S.retries.set(cid, setTimeout(function () {
        S.retries.delete(cid);
        var entry = outbox().filter(function (e) { return e.id === cid; })[0];
        if (entry) transmit(entry);
      }, wait));
      updateTyping();
      return;
    }
    if (code === 'duplicate') {
      // Answered on another connection (one of ours that died): the reply is in the log.
      settle(cid);
      recoverReplies(cid);
      return;
    }
    outboxRemove(cid);
    setStatus(cid, 'failed', String(f.detail || code || ''));
    updateTyping();
  }

  // -- HTTP: history and accounts -----------------------------------------------------------------

  function api(path, options) {
    options = options || {};
    var headers = { Accept: 'application/json' };
    if (options.body) headers['Content-Type'] = 'application/json';
    if (options.auth !== false && S.token) headers.Authorization = 'Bearer ' + S.token;
    return fetch(API + path, {
      method: options.method || 'GET',
      headers: headers,
      body: options.body ? JSON.stringify(options.body) : undefined,
      credentials: 'omit',
      cache: 'no-store',
      keepalive: !!options.keepalive
    }).then(function (res) {
      var type = res.headers.get('content-type') || '';
      var body = type.indexOf('json') >= 0 ? res.json().catch(function () { return null; }) : Promise.resolve(null);
      return body.then(function (json) { return { status: res.status, ok: res.ok, data: json, headers: res.headers }; });
    });
  }

  function fetchPage(id, offset) {
    return api('/api/sessions/' + encodeURIComponent(id) + '/messages?offset=' + offset + '&limit=' + HISTORY_PAGE);
  }

  var historyJob = null; // one history request at a time per session

  /** Replace the list with the session's log, then the outbox entries not in it. */
  function loadHistory() {
    var id = S.sessionId;
    if (!id) { S.historyLoaded = true; return Promise.resolve(); }
    if (historyJob && historyJob.id === id) return historyJob.promise;
    var promise = fetchHistory(id);
    var job = { id: id, promise: promise };
    historyJob = job;
    var done = function () { if (historyJob === job) historyJob = null; };
    promise.then(done, done);
    return promise;
  }

  function fetchHistory(id) {
    return fetchPage(id, 0).then(function (res) {
      if (res.ok && res.data && res.data.total > res.data.offset + res.data.items.length) {
        return fetchPage(id, Math.max(0, res.data.total - HISTORY_PAGE));
      }
      return res;
    }).then(function (res) {
      if (id !== S.sessionId) return;
      if (res.status === 401) { // the token is no longer valid
        setAuth(null, null);
        renderNotice(T.relogin);
        return;
      }
      if (res.status === 404) { // not ours, or gone
        S.historyLoaded = true;
        return;
      }
      if (!res.ok || !res.data || !Array.isArray(res.data.items)) throw new Error('history ' + res.status);
      renderHistory(res.data.items);
      S.historyLoaded = true;
    });
  }

  function renderHistory(items) {
    var stick = true;
    clearLog();
    var lastIn = -1;
    items.forEach(function (m, i) { if (m.direction === 'in') lastIn = i; });
    var previousButtons = [];
    var labels = store.get('labels') || {};
    items.forEach(function (m, i) {
      if (m.direction === 'agent') { renderPersonHistory(m); previousButtons = []; return; }
      if (m.direction === 'in') {
        // A button's title for its payload: remembered on this device, or an "/intent" payload.
        var shownText = (m.client_id && typeof labels[m.client_id] === 'string') ? labels[m.client_id] : m.text;
        if (shownText === m.text && m.text.charAt(0) === '/') {
          previousButtons.forEach(function (b) { if (b.payload === m.text) shownText = b.title; });
        }
        renderUser(m.client_id || null, shownText, parseTime(m.created_at), 'done');
        if (m.client_id) S.answered.add(m.client_id);
        previousButtons = [];
      } else {
        var buttons = (m.buttons || []).map(function (b) {
          return Array.isArray(b) ? { title: String(b[0]), payload: String(b[1]) } : { title: String(b.title), payload: String(b.payload) };
        });
        previousButtons = previousButtons.concat(buttons);
        renderBot({ text: String(m.text), date: parseTime(m.created_at), messageId: m.id, buttons: buttons, feedback: m.feedback || 0, image: m.image, link: m.link },
          { buttons: i > lastIn, announce: false });
      }
    });
    // Messages still in the outbox and not in the log come last, in the order typed.
    outbox().forEach(function (entry) {
      if (S.answered.has(entry.id)) {
        var hasReply = items.some(function (m) { return m.direction === 'out' && m.client_id === entry.id; });
        if (hasReply) outboxRemove(entry.id);
        return;
      }
      renderUser(entry.id, entry.label || entry.text, parseTime(entry.at), 'queued');
    });
    scrollToEnd(stick);
  }

  function recoverReplies(clientId, attempt) {
    attempt = attempt || 0;
    if (!S.sessionId) return;
    fetchPage(S.sessionId, 0).then(function (res) {
      if (res.ok && res.data && res.data.total > res.data.items.length) return fetchPage(S.sessionId, Math.max(0, res.data.total - HISTORY_PAGE));
      return res;
    }).then(function (res) {
      if (!res.ok || !res.data) throw new Error('history ' + res.status);
      var found = false;
      res.data.items.forEach(function (m) {
        if (m.direction !== 'out' || m.client_id !== clientId) return;
        found = true;
        if (!S.shown.has(m.id)) {
          var buttons = (m.buttons || []).map(function (b) { return { title: String(b[0]), payload: String(b[1]) }; });
          renderBot({ text: String(m.text), date: parseTime(m.created_at), messageId: m.id, buttons: buttons, image: m.image, link: m.link }, { buttons: true, announce: true });
        }
      });
      if (!found) throw new Error('not yet');
    }).catch(function () {
      // The other connection may still be working on it: look again a little later.
      if (attempt < 4) setTimeout(function () { recoverReplies(clientId, attempt + 1); }, 1000 * (attempt + 1));
    });
  }

  // -- a person in the conversation (handoff) ----------------------------------------------------

  var TYPING_EVERY_MS = 2000;
  var PERSON_TYPING_MS = 4000;

  /** The widget's words for what happens in the conversation: in the session's language where the
   * widget has it (the conversation is in it), else the page's. */
  function convT() { return STRINGS[S.lang] || T; }
  function personText(key, name) { var t = convT(); return t[key].replace('{name}', name || t.person); }
  /** The `lang` attribute of a line in the session's language, where the page's differs. */
  function convLang() { return S.lang && S.lang !== LANG ? S.lang : null; }

  /** The session frame says who answers (the bot, or a person: mode 'agent', their name) and in
   * which language; it comes again when the first message settles the language. */
  function onPersonSession(f) {
    var lang = typeof f.language === 'string' ? f.language.toLowerCase().split(/[-_]/)[0] : '';
    S.lang = Object.prototype.hasOwnProperty.call(STRINGS, lang) ? lang : null;
    S.person = f.mode === 'agent' ? (f.agent || convT().person) : null;
  }

  function onPersonFrame(f) {
    switch (f.type) {
      case 'received': // stored for a person: no bot reply will come
        if (typeof f.reply_to === 'string') settle(f.reply_to);
        S.lastTypingSent = 0; // the person saw the message arrive: the next keystroke is news
        break;
      case 'agent_joined':
        S.person = f.agent;
        renderNotice(personText('agentJoined', f.agent), convLang());
        break;
      case 'agent_left':
        S.person = null;
        hidePersonTyping();
        renderNotice(personText('agentLeft', f.agent), convLang());
        break;
      case 'agent_message':
        hidePersonTyping();
        if (typeof f.message_id === 'number' && S.shown.has(f.message_id)) break;
        renderPerson({ text: String(f.text), name: f.agent, date: parseTime(f.time), messageId: f.message_id, buttons: f.buttons || [] }, true);
        scrollToEnd(false);
        break;
      case 'agent_typing':
        showPersonTyping(f.agent);
        break;
      default: break;
    }
  }

  /** A person's message: marked with their name, no thumbs (they are not the bot). */
  function renderPerson(m, live) {
    var body = h('span', { class: 'cbw-text' });
    appendRichText(body, m.text);
    var said = personText('agentSaid', m.name);
    var row = h('div', { class: 'cbw-msg cbw-msg--bot cbw-msg--person', 'data-message-id': m.messageId == null ? null : String(m.messageId) },
      h('div', { class: 'cbw-bubble' },
        h('span', { class: 'cbw-person', 'aria-hidden': 'true', text: m.name || convT().person }),
        h('span', { class: 'cbw-sr', lang: convLang(), text: said + ' ' }), body),
      h('div', { class: 'cbw-meta' }, timeElement(m.date)));
    if (m.buttons.length && live) {
      var group = h('div', { class: 'cbw-quick', role: 'group', 'aria-label': T.suggested });
      m.buttons.forEach(function (b) {
        group.appendChild(h('button', { type: 'button', class: 'cbw-chip', text: b.title, onclick: function () { sendMessage(b.payload, b.title); input.focus(); } }));
      });
      row.appendChild(group);
    }
    if (m.messageId != null) S.shown.add(m.messageId);
    append(row);
    if (live) {
      announce(said + ' ' + m.text);
      if (!S.open) setUnread(S.unread + 1);
    }
  }

  function renderPersonHistory(m) {
    renderPerson({ text: String(m.text), name: null, date: parseTime(m.created_at), messageId: m.id, buttons: [] }, false);
  }

  function showPersonTyping(name) {
    typingEl.querySelector('.cbw-typing-text').textContent = personText('agentTyping', name);
    typingEl.hidden = false;
    scrollToEnd(false);
    clearTimeout(S.personTypingTimer);
    S.personTypingTimer = setTimeout(hidePersonTyping, PERSON_TYPING_MS);
  }

  function hidePersonTyping() {
    clearTimeout(S.personTypingTimer);
    typingEl.querySelector('.cbw-typing-text').textContent = T.typing;
    updateTyping();
  }

  /** While a person holds the conversation, tell them the user is typing (at most every 2 s). */
  function typingToPerson() {
    var now = Date.now();
    if (!S.person || !S.ready || now - (S.lastTypingSent || 0) < TYPING_EVERY_MS) return;
    if (sendFrame({ type: 'typing' })) S.lastTypingSent = now;
  }

  function setAuth(token, user) {
    S.token = token;
    S.user = token ? user : null;
    store.set('token', S.token);
    store.set('user', S.user);
    updateAccount();
  }

  function updateAccount() {
    var inside = !!S.token;
    loginBtn.hidden = inside;
    logoutBtn.hidden = !inside;
    menuBtn.hidden = !inside;
    if (!inside) showMenu(false);
    whoEl.hidden = !inside;
    whoEl.textContent = inside ? T.loggedInAs + (S.user || '') : '';
  }

  function showAuth(show) {
    authForm.hidden = !show;
    chatArea.hidden = show;
    loginBtn.setAttribute('aria-expanded', String(show));
    authError.textContent = '';
    if (show) {
      if (!S.open) open(false);
      userInput.focus();
    } else {
      passInput.value = '';
      (S.token ? input : loginBtn.hidden ? input : loginBtn).focus();
    }
  }

  function authMessage(res, action) {
    if (!res) return T.network;
    if (res.status === 401) return T.badCredentials;
    if (res.status === 409) return T.nameTaken;
    if (res.status === 429) return T.tooMany;
    var detail = res.data && typeof res.data.detail === 'string' ? res.data.detail : '';
    if (action === 'register' && (res.status === 422 || res.status === 400)) return T.cannotRegister + (detail || res.status);
    return detail || T.network;
  }

  function submitAuth(action) {
    if (S.authBusy) return;
    var username = userInput.value.trim();
    var password = passInput.value;
    if (!username || !password) {
      authError.textContent = T.fillIn;
      (username ? passInput : userInput).focus();
      return;
    }
    S.authBusy = true;
    authForm.setAttribute('aria-busy', 'true');
    authLoginBtn.disabled = authRegisterBtn.disabled = true;
    authError.textContent = '';
    var creds = { username: username, password: password };
    var step = action === 'register'
      ? api('/api/register', { method: 'POST', body: creds, auth: false }).then(function (res) {
          if (res.status !== 201) throw res;
          return api('/api/login', { method: 'POST', body: creds, auth: false });
        })
      : api('/api/login', { method: 'POST', body: creds, auth: false });
    step.then(function (res) {
      if (!res.ok || !res.data || !res.data.token) throw res;
      return loggedIn(res.data.token, (res.data.user && res.data.user.username) || username);
    }).then(function () {
      showAuth(false);
    }, function (res) {
      authError.textContent = authMessage(res && typeof res.status === 'number' ? res : null, action);
      if (res && res.status === 401) passInput.select();
    }).then(function () {
      S.authBusy = false;
      authForm.removeAttribute('aria-busy');
      authLoginBtn.disabled = authRegisterBtn.disabled = false;
    });
  }

  /** After a login: keep this conversation (the server adopts it) or continue the user's latest. */
  function loggedIn(token, username) {
    setAuth(token, username);
    var pick = hasConversation() || outbox().length
      ? Promise.resolve(null)
      : api('/api/sessions?limit=10').then(function (res) {
          if (!res.ok || !Array.isArray(res.data) || !res.data.length) return null;
          var live = res.data.filter(function (s) { return !s.ended_at && s.turns > 0; });
          return (live[0] || res.data.filter(function (s) { return s.turns > 0; })[0] || null);
        }).catch(function () { return null; });
    return pick.then(function (latest) {
      if (latest && latest.id !== S.sessionId) {
        S.sessionId = latest.id;
        store.set('session', S.sessionId);
        return loadHistory().catch(function () { S.historyLoaded = false; });
      }
    }).then(function () {
      renderNotice(T.loggedIn + username + '.');
      reopen();
    });
  }

  function logout() {
    var token = S.token;
    if (token) api('/api/logout', { method: 'POST', keepalive: true }).catch(function () { /* revoked or not: forget it here */ });
    setAuth(null, null);
    startOver(T.loggedOut);
  }

  /** The server ended this login (close 4401 after `token_revoked`): as at a logout, nothing queued
   *  is sent again under the old identity; the widget starts over as a guest. */
  function signedOut() {
    setAuth(null, null);
    startOver(T.signedOut);
  }

  /** Forget the conversation kept in this browser and open a fresh one, saying why. */
  function startOver(notice) {
    S.sessionId = null;
    store.set('session', null);
    store.set('labels', null);
    setOutbox([]);
    S.feedback.clear();
    clearLog();
    S.historyLoaded = true;
    renderNotice(notice);
    reopen();
    input.focus();
  }

  // -- the user's data -----------------------------------------------------------------------------

  /** Everything the bot stores about the user, saved as a JSON file. */
  function downloadData() {
    api('/api/me/export').then(function (res) {
      if (!res.ok || !res.data) throw res;
      var blob = new Blob([JSON.stringify(res.data, null, 2)], { type: 'application/json' });
      var url = URL.createObjectURL(blob);
      var a = h('a', { href: url, download: 'my-chat-data.json', hidden: true });
      shadow.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function () { renderNotice(T.failedAction); });
  }

  /** Delete every conversation of the user (the account stays), after asking. */
  function deleteHistory() {
    if (!window.confirm(T.confirmDelete)) { menuBtn.focus(); return; }
    api('/api/me/history', { method: 'DELETE' }).then(function (res) {
      if (!res.ok) throw res;
      startOver(T.historyDeleted);
    }).catch(function () { renderNotice(T.failedAction); });
  }

  // -- start -------------------------------------------------------------------------------------

  function renderPending() {
    outbox().forEach(function (entry) {
      if (!S.userRows.has(entry.id)) renderUser(entry.id, entry.label || entry.text, parseTime(entry.at), 'queued');
    });
  }

  /** The history is fetched when the panel first opens (or on reconnecting), not on every page view. */
  function start() {
    document.body.appendChild(host);
    updateAccount();
    S.historyLoaded = !S.sessionId;
    renderPending();
    if (OPEN_AT_LOAD || session.get('open') === '1') open(false);
    else if (outbox().length) connect(); // something typed is still to be delivered
  }

  window.ChatWidget = {
    version: '1.0.0',
    open: function () { open(true); },
    close: function () { close(false); },
    toggle: toggle,
    send: function (text) { sendMessage(String(text), null); },
    /** The host site's signed token for its logged-in user: logs them in to the chat. */
    setUserToken: function (token) {
      token = typeof token === 'string' ? token.trim() : '';
      if (!token || token === S.userToken || token === store.get('hostToken')) return;
      S.userToken = token;
      if (S.ws) reopen();
      else if (S.open) connect();
    }
  };

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
