// mock-graph inspector. Reads and writes only the /_mock/ admin API, follows
// /_mock/events, and keeps every view at a URL (#/c/<psid or scenario id>?at=...,
// #/sent?outcome=refused, #/record, ...). Times are the emulator's virtual time, shown
// in UTC; countdowns are computed from the virtual "now" the API reports.
'use strict';

// ---------------------------------------------------------------------------
// The admin API

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    if (typeof body === 'string') {
      init.headers['content-type'] = 'text/plain; charset=utf-8';
      init.body = body;
    } else {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const message = json && json.error && json.error.message ? json.error.message : text || response.statusText;
    throw new Error(message);
  }
  noteNow(json);
  return json;
}
const get = (path) => call('GET', path);
const post = (path, body) => call('POST', path, body === undefined ? {} : body);

// Runs an action a person asked for: errors are shown, and the view refreshes.
async function act(what) {
  try {
    const result = await what();
    clearError();
    await refresh();
    return result;
  } catch (e) {
    showError(e.message);
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Virtual time

const clock = { now: null, seenAt: 0, realtime: false };

// Every answer that carries the virtual time moves our idea of it (never backwards).
function noteNow(json) {
  if (!json || typeof json.now !== 'string') return;
  const t = Date.parse(json.now);
  if (clock.now === null || t >= clock.now) {
    clock.now = t;
    clock.seenAt = performance.now();
  }
}

// The virtual time now: as reported; with --realtime the virtual clock follows the
// wall clock, so it has moved on by the wall time since.
function virtualNow() {
  if (clock.now === null) return null;
  return clock.realtime ? clock.now + (performance.now() - clock.seenAt) : clock.now;
}

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const shortFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false,
});
const dayFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short',
});
const timeFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const fmtDate = (t) => (t == null ? '—' : dateFmt.format(new Date(t)) + ' UTC');
const fmtShort = (t) => (t == null ? '—' : shortFmt.format(new Date(t)));
const fmtTime = (t) => (t == null ? '—' : timeFmt.format(new Date(t)));

// "6 d 23 h", "23 h 59 min", "4 min 10 s", "12 s".
function fmtSpan(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

// An instant as the API writes it, for ?at= links and the clock.
const iso = (t) => new Date(t).toISOString().replace('.000Z', 'Z');

// ---------------------------------------------------------------------------
// Building the page

// h('a', {href: '#/'}, 'text', child): an element. Text is always set as text, never
// parsed as HTML: customers' messages go through here.
function h(tag, attrs, ...children) {
  const svg = ['svg', 'g', 'rect', 'line', 'text', 'path', 'title', 'circle', 'polygon'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && !svg) el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces a region's content without losing the person's place: the focused element
// and open menus (by data-key) come back, and so does the scroll position.
function swap(container, ...children) {
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
  const open = [...container.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key);
  const top = container.scrollTop;
  container.replaceChildren(...children.flat(Infinity).filter(Boolean));
  for (const key of open) {
    const d = container.querySelector(`details[data-key="${CSS.escape(key)}"]`);
    if (d) d.open = true;
  }
  if (focused) {
    const el = container.querySelector(`[data-key="${CSS.escape(focused)}"]`);
    if (el) el.focus();
  }
  container.scrollTop = top;
}

function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

function avatar(id, name, big) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return h('span', { class: 'avatar' + (big ? ' big' : ''), style: `background: hsl(${hash % 360} 55% 45%)`, 'aria-hidden': 'true' }, initials(name));
}

const WINDOW_NAMES = { standard: 'Standard', human_agent: 'Human agent', expired: 'Expired' };

// A window's chip; its countdown is kept current by tick().
function windowChip(w) {
  return h('span', {
    class: `window ${w.state}`, 'data-window': w.state,
    'data-closes-at': w.closes_at || undefined, 'data-since': w.since || undefined,
  }, windowText(w.state, w.closes_at, w.since));
}

function windowText(state, closesAt, since) {
  const now = virtualNow();
  if (state === 'expired') {
    return since ? `Expired ${fmtSpan(now - Date.parse(since))} ago` : 'No window yet';
  }
  return `${WINDOW_NAMES[state]} · ${fmtSpan(Date.parse(closesAt) - now)} left`;
}

// Countdowns follow the virtual time: still while the clock is, running with --realtime.
function tick() {
  for (const el of document.querySelectorAll('[data-window]')) {
    el.textContent = windowText(el.dataset.window, el.dataset.closesAt, el.dataset.since);
  }
  for (const el of document.querySelectorAll('[data-until]')) {
    el.textContent = fmtSpan(Date.parse(el.dataset.until) - virtualNow()) + ' left';
  }
  const now = virtualNow();
  if (now !== null) document.getElementById('clock-now').textContent = fmtDate(now);
}

function showError(message) {
  document.getElementById('error-text').textContent = message;
  document.getElementById('error').hidden = false;
}
function clearError() {
  document.getElementById('error').hidden = true;
}

// ---------------------------------------------------------------------------
// Routes: #/, #/c/<id>[?at=...], #/sent[?psid=&outcome=&app=], #/webhooks, #/record,
// #/faults, #/scenario

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean);
  const params = new URLSearchParams(query || '');
  if (parts[0] === 'c' && parts[1]) return { view: 'conversations', id: decodeURIComponent(parts[1]), params };
  const view = parts[0] || 'conversations';
  return { view: VIEWS[view] ? view : 'conversations', params };
}

function link(view, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  const s = q.toString();
  return `#/${view}${s ? '?' + s : ''}`;
}

// The id a conversation's URL uses: the scenario's (c0042) when there is one.
const convId = (c) => c.label || c.psid;
const convLink = (c, at) => `#/c/${encodeURIComponent(convId(c))}${at ? '?at=' + at : ''}`;
const displayName = (c) => c.name || c.label || c.psid;

// ---------------------------------------------------------------------------
// Conversations

let tagsCache = null;
async function tags() {
  if (!tagsCache) tagsCache = (await get('/_mock/record')).tags;
  return tagsCache;
}

const conversations = {
  mount(main, r) {
    this.list = h('ul', { id: 'chats', 'aria-label': 'Conversations' });
    this.sort = h('select', { id: 'sort', onchange: () => this.renderList() },
      h('option', { value: 'recent' }, 'Most recent'),
      h('option', { value: 'closing' }, 'Window closing soonest'),
      h('option', { value: 'created' }, 'Order created'));
    const name = h('input', { id: 'new-name', type: 'text', placeholder: 'Name (optional)', autocomplete: 'off' });
    const create = h('form', {
      class: 'row-form', id: 'new-customer',
      onsubmit: (e) => {
        e.preventDefault();
        act(async () => {
          const c = await post('/_mock/customers', name.value.trim() ? { name: name.value.trim() } : {});
          name.value = '';
          location.hash = `#/c/${encodeURIComponent(c.psid)}`;
        });
      },
    }, h('label', { for: 'new-name', class: 'sr-only' }, 'New customer\'s name'), name,
    h('button', { type: 'submit', class: 'primary' }, 'New customer'));
    this.pane = h('section', { class: 'conv', id: 'conversation', 'aria-label': 'Conversation' });
    main.append(h('div', { class: 'inbox' },
      h('section', { class: 'chats' },
        h('header', {}, h('h1', {}, 'Chats'), create,
          h('div', { class: 'row-form small', style: 'margin-top:.4rem' }, h('label', { for: 'sort' }, 'Sort'), this.sort)),
        this.list),
      this.pane));
    this.data = null;
    this.shown = false;
    this.id = r.id;
    this.at = r.params.get('at');
    this.conv = null;
    if (r.id) this.mountConversation(r.id);
    else this.pane.append(h('div', { class: 'empty' }, 'Choose a conversation, or create a customer to act as.'));
  },

  async refresh() {
    const [list, conv] = await Promise.all([
      get('/_mock/conversations'),
      this.id ? get(`/_mock/conversations/${encodeURIComponent(this.id)}${this.at ? '?at=' + encodeURIComponent(this.at) : ''}`) : null,
    ]);
    this.data = list.data;
    this.renderList();
    if (conv) this.renderConversation(conv);
  },

  renderList() {
    if (!this.data) return;
    const now = virtualNow();
    const closing = (c) => (c.window.closes_at ? Date.parse(c.window.closes_at) - now : Infinity);
    const recent = (c) => (c.last_activity ? -Date.parse(c.last_activity) : Infinity);
    const order = { recent, closing, created: () => 0 }[this.sort.value];
    const items = this.data.map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i);
    if (!items.length) {
      swap(this.list, h('li', { class: 'empty' }, 'No customers yet.'));
      return;
    }
    swap(this.list, items.map(({ c }) => {
      const current = this.conv && this.conv.psid === c.psid;
      const preview = c.last ? (c.last.from === 'page' ? 'You: ' : '') + c.last.text : 'No messages yet';
      return h('li', {},
        h('a', {
          href: convLink(c), class: 'chat' + (c.unread ? ' unread' : ''), 'data-key': 'chat-' + c.psid,
          'data-psid': c.psid, 'aria-current': current ? 'page' : undefined,
        },
        avatar(c.psid, c.name),
        h('span', { class: 'who' }, displayName(c), c.label && c.name ? h('span', { class: 'label' }, ' · ' + c.label) : null),
        h('span', { class: 'when' }, c.last_activity ? fmtShort(Date.parse(c.last_activity)) : ''),
        h('span', { class: 'preview' }, preview),
        h('span', { class: 'marks' },
          windowChip(c.window),
          c.blocked ? h('span', { class: 'mark blocked' }, 'blocked') : null,
          c.handed_over ? h('span', { class: 'mark handed' }, 'other app') : null,
          c.unread ? h('span', { class: 'unread-count', 'aria-label': `${c.unread} unread` }, c.unread) : null)));
    }));
  },

  mountConversation(id) {
    this.head = h('header', {});
    this.asof = h('div', { class: 'asof', hidden: true });
    this.thread = h('ol', { class: 'thread', id: 'thread', 'aria-label': 'Messages', 'aria-live': 'polite' });
    this.pane.append(this.head, this.asof, this.thread, this.actions(id));
  },

  // The customer's side: what a person can do in Messenger, sent as signed webhooks
  // through the admin API.
  actions(id) {
    const customer = (action, body) => act(() => post(`/_mock/customers/${encodeURIComponent(this.conv.psid)}/${action}`, body));
    const text = h('input', { id: 'say', type: 'text', placeholder: 'Write as the customer…', autocomplete: 'off', 'aria-label': 'Message as the customer' });
    const say = h('form', {
      class: 'compose', id: 'say-form',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!text.value.trim() || !this.conv) return;
        const value = text.value;
        text.value = '';
        if ((await customer('messages', { text: value })) === undefined) text.value = value;
        text.focus();
      },
    }, text, h('button', { type: 'submit', class: 'primary', id: 'say-send' }, 'Send'));

    const pbTitle = h('input', { id: 'pb-title', type: 'text', placeholder: 'Get started', required: true });
    const pbPayload = h('input', { id: 'pb-payload', type: 'text', placeholder: 'GET_STARTED' });
    const postback = h('form', {
      onsubmit: (e) => { e.preventDefault(); customer('postbacks', { title: pbTitle.value, payload: pbPayload.value || pbTitle.value }); },
    }, h('fieldset', {}, h('legend', {}, 'Press a button (postback)'),
      h('div', { class: 'row-form' },
        h('label', { for: 'pb-title' }, 'Title'), pbTitle,
        h('label', { for: 'pb-payload' }, 'Payload'), pbPayload,
        h('button', { type: 'submit', id: 'pb-send' }, 'Press'))));

    const refRef = h('input', { id: 'ref-ref', type: 'text', placeholder: 'summer-promo', required: true });
    const refSource = h('select', { id: 'ref-source' }, ['SHORTLINK', 'ADS', 'CUSTOMER_CHAT_PLUGIN'].map((s) => h('option', {}, s)));
    const referral = h('form', {
      onsubmit: (e) => { e.preventDefault(); customer('referrals', { ref: refRef.value, source: refSource.value }); },
    }, h('fieldset', {}, h('legend', {}, 'Arrive through a link (referral)'),
      h('div', { class: 'row-form' },
        h('label', { for: 'ref-ref' }, 'ref'), refRef,
        h('label', { for: 'ref-source' }, 'Source'), refSource,
        h('button', { type: 'submit' }, 'Arrive'))));

    this.blockButton = h('button', { type: 'button', id: 'block', onclick: () => customer(this.conv.blocked ? 'unblock' : 'block') }, 'Block the page');
    this.handButton = h('button', {
      type: 'button', id: 'handover',
      onclick: () => customer('handover', { owner: this.conv.handed_over ? 'us' : 'other' }),
    }, 'Hand over to another app');
    const person = h('fieldset', {}, h('legend', {}, 'The person'),
      h('div', { class: 'row-form' },
        h('button', { type: 'button', id: 'read', onclick: () => customer('read') }, 'Read everything'),
        this.blockButton, this.handButton));

    const otherText = h('input', { id: 'other-text', type: 'text', required: true, placeholder: 'Text' });
    const otherTag = h('select', { id: 'other-tag' }, h('option', { value: '' }, 'RESPONSE (no tag)'));
    tags().then((all) => all.forEach((t) => otherTag.append(h('option', { value: t.tag }, t.tag + (t.available ? '' : ' (not in this era)')))));
    const other = h('form', {
      onsubmit: (e) => {
        e.preventDefault();
        act(async () => {
          const r = await post('/_mock/other-app/sends', { psid: this.conv.psid, text: otherText.value, tag: otherTag.value || undefined });
          otherText.value = '';
          return r;
        });
      },
    }, h('fieldset', {}, h('legend', {}, 'Another app sends (Meta Business Suite)'),
      h('div', { class: 'row-form' },
        h('label', { for: 'other-text', class: 'sr-only' }, 'Text the other app sends'), otherText,
        h('label', { for: 'other-tag' }, 'Tag'), otherTag,
        h('button', { type: 'submit' }, 'Send as other app'))));

    return h('section', { class: 'act', 'aria-label': 'Act as the customer' },
      say,
      h('details', { id: 'more' }, h('summary', {}, 'More: postbacks, links, read, block, hand over, another app'),
        h('div', { class: 'grid' }, postback, referral, person, other)));
  },

  renderConversation(c) {
    this.conv = c;
    const live = !c.as_of;
    swap(this.head,
      avatar(c.psid, c.name, true),
      h('div', { class: 'title' },
        h('h1', { id: 'conv-name' }, displayName(c), c.label && c.name ? h('span', { class: 'label' }, ' · ' + c.label) : null),
        h('div', { class: 'ids' }, `PSID ${c.psid} · ${c.conversation_id}`)),
      h('div', { id: 'conv-marks' },
        windowChip(c.window), ' ',
        c.blocked ? h('span', { class: 'mark blocked' }, 'blocked the page') : null, ' ',
        c.handed_over ? h('span', { class: 'mark handed' }, 'another app owns it') : null, ' ',
        c.tagged_in_a_row ? h('span', { class: 'mark tags', title: 'Meta refuses the third tagged message in a row (613)' },
          `${c.tagged_in_a_row} tagged in a row`) : null),
      h('a', { href: link('sent', { psid: convId(c) }), class: 'small' }, 'Send API calls'));
    this.asof.hidden = live;
    if (!live) {
      swap(this.asof, h('span', {}, '⏱ As it stood at ', h('strong', {}, fmtDate(Date.parse(c.as_of))),
        ` (now is ${fmtDate(Date.parse(c.now))})`), h('a', { href: convLink(c) }, 'Back to now'));
    }
    this.blockButton.textContent = c.blocked ? 'Unblock the page' : 'Block the page';
    this.handButton.textContent = c.handed_over ? 'Take the conversation back' : 'Hand over to another app';
    for (const el of this.pane.querySelectorAll('.act button, .act input, .act select')) el.disabled = !live;
    const rows = [];
    let last = null;
    c.entries.forEach((e, i) => {
      const at = Date.parse(e.at);
      if (last === null || at - last >= 3600 * 1000) {
        rows.push(h('li', { class: 'sep' }, h('a', { href: convLink(c, e.at), title: 'Link to the conversation as it stood then' }, fmtShort(at))));
      }
      last = at;
      const row = this.entry(c, e, i);
      if (row) rows.push(row);
    });
    if (!rows.length) rows.push(h('li', { class: 'system' }, 'Nothing yet. Write as the customer below.'));
    if (!live && rows.length) rows[rows.length - 1].classList.add('highlight');
    // Like Messenger: opened at the latest message, and following new ones unless the
    // person scrolled up to read.
    const t = this.thread;
    const atEnd = !this.shown || t.scrollHeight - t.scrollTop - t.clientHeight < 60;
    swap(t, rows);
    if (atEnd) t.scrollTop = t.scrollHeight;
    this.renderList();
    if (!this.shown) {
      const chat = this.list.querySelector('[aria-current=page]');
      if (chat) chat.scrollIntoView({ block: 'nearest' });
    }
    this.shown = true;
  },

  entry(c, e, i) {
    const when = fmtDate(Date.parse(e.at));
    const key = { 'data-entry': i, 'data-kind': e.kind, title: when };
    const reaction = e.reaction ? h('span', { class: 'reaction', 'aria-label': 'reaction ' + e.reaction }, e.reaction) : null;
    switch (e.kind) {
      case 'customer_message':
        return h('li', { class: 'customer', ...key, 'data-mid': e.mid }, h('div', { class: 'bubble' }, e.text), reaction);
      case 'page_message': {
        const type = e.tag ? `${e.messaging_type} · ${e.tag}` : e.messaging_type;
        return h('li', { class: 'page' + (e.other_app ? ' other-app' : ''), ...key, 'data-mid': e.mid },
          h('div', { class: 'bubble' }, e.text == null ? '(attachment)' : e.text), reaction,
          h('div', { class: 'meta' },
            e.other_app ? h('span', { class: 'via' }, `echo from another app (${e.app_id})`) : null,
            h('span', { class: 'type' }, type),
            e.persona_id ? h('span', {}, `persona ${e.persona_id}`) : null,
            h('span', { class: 'status' }, e.seen ? 'Seen' : 'Delivered'),
            h('span', {}, fmtTime(Date.parse(e.at))),
            !c.as_of ? this.reactMenu(c, e) : null));
      }
      case 'refused':
        return h('li', { class: 'system refused', ...key },
          h('span', { class: 'what' }, `✕ Meta refused ${e.other_app ? 'another app\'s' : 'a'} send: (#${e.code}${e.subcode ? '/' + e.subcode : ''}) `,
            e.messaging_type ? `${e.messaging_type}${e.tag ? ' · ' + e.tag : ''} ` : '',
            e.text ? `“${e.text}”` : '', ' — ', h('a', { href: link('sent', { psid: convId(c), outcome: 'refused' }) }, 'why')));
      case 'sender_action':
        return h('li', { class: 'system', ...key }, { typing_on: 'The page is typing…', typing_off: 'The page stopped typing', mark_seen: 'The page saw the conversation' }[e.action] || e.action);
      case 'postback':
        return h('li', { class: 'customer', ...key }, h('div', { class: 'bubble postback' }, `▸ ${e.title}`),
          h('div', { class: 'meta' }, `postback · payload ${e.payload}`));
      case 'reaction':
        return h('li', { class: 'system', ...key }, e.emoji ? `The customer reacted ${e.emoji}` : 'The customer removed a reaction');
      case 'referral':
        return h('li', { class: 'system', ...key }, e.source === 'ADS'
          ? `The customer came from an ad (ref ${e.reference}): no window until they write`
          : `The customer came in through a ${e.source} link (ref ${e.reference})`);
      case 'read':
        return h('li', { class: 'system', ...key }, `Read by the customer at ${fmtTime(Date.parse(e.at))}`);
      case 'blocked':
        return h('li', { class: 'system', ...key }, e.blocked ? '⛔ The customer blocked the page' : 'The customer unblocked the page');
      case 'handover':
        return h('li', { class: 'system', ...key }, e.other_app_owns ? '↪ Another app took the conversation' : '↩ The conversation was handed back');
      default:
        return h('li', { class: 'system', ...key }, e.kind);
    }
  },

  reactMenu(c, e) {
    const react = (body) => act(() => post(`/_mock/customers/${encodeURIComponent(c.psid)}/reactions`, { mid: e.mid, ...body }));
    return h('details', { class: 'react', 'data-key': 'react-' + e.mid },
      h('summary', { 'data-key': 'react-summary-' + e.mid, 'aria-label': 'React as the customer' }, '☺ React'),
      h('div', { class: 'menu', role: 'group', 'aria-label': 'Reactions' },
        ['❤️', '👍', '😂', '😮', '😢', '😡'].map((emoji) => h('button', { type: 'button', 'aria-label': 'React ' + emoji, onclick: () => react({ emoji }) }, emoji)),
        e.reaction ? h('button', { type: 'button', 'aria-label': 'Remove the reaction', onclick: () => react({ action: 'unreact' }) }, '✕') : null));
  },
};

// ---------------------------------------------------------------------------
// The Send API log

const sent = {
  mount(main, r) {
    this.params = r.params;
    const choose = (name, options) => {
      const select = h('select', { id: 'f-' + name, onchange: () => this.go() }, options.map(([v, t]) => h('option', { value: v }, t)));
      select.value = r.params.get(name) || '';
      return select;
    };
    this.psid = choose('psid', [['', 'Every customer']]);
    this.outcome = choose('outcome', [['', 'Every outcome'], ['sent', 'Sent'], ['refused', 'Refused']]);
    this.app = choose('app', [['', 'Every app'], ['this', 'This app'], ['other', 'Other apps']]);
    this.table = h('tbody', { id: 'sent-rows' });
    this.count = h('p', { class: 'muted', id: 'sent-count' });
    main.append(h('div', { class: 'panel' },
      h('h1', {}, 'Send API log'),
      h('p', { class: 'muted' }, 'Every call and Meta\'s answer, newest first. Errors carry Meta\'s code and subcode, and what they mean.'),
      h('div', { class: 'filters', role: 'search' },
        h('div', {}, h('label', { for: 'f-psid' }, 'Customer'), this.psid),
        h('div', {}, h('label', { for: 'f-outcome' }, 'Outcome'), this.outcome),
        h('div', {}, h('label', { for: 'f-app' }, 'App'), this.app)),
      this.count,
      h('table', {}, h('thead', {}, h('tr', {}, ['#', 'When', 'App', 'To', 'Type', 'Text', 'Outcome', 'What it means'].map((t) => h('th', { scope: 'col' }, t)))), this.table)));
  },

  // Filters live in the URL, so a filtered log can be linked to.
  go() {
    location.hash = link('sent', { psid: this.psid.value, outcome: this.outcome.value, app: this.app.value });
  },

  async refresh() {
    const q = new URLSearchParams({ limit: '500' });
    for (const k of ['psid', 'outcome', 'app']) if (this.params.get(k)) q.set(k, this.params.get(k));
    const [log, list] = await Promise.all([get('/_mock/send-log?' + q), get('/_mock/conversations')]);
    const chosen = this.params.get('psid') || '';
    swap(this.psid, h('option', { value: '' }, 'Every customer'),
      list.data.map((c) => h('option', { value: convId(c) }, `${displayName(c)}${c.label && c.name ? ' (' + c.label + ')' : ''}`)));
    if (chosen && ![...this.psid.options].some((o) => o.value === chosen)) this.psid.append(h('option', { value: chosen }, chosen));
    this.psid.value = chosen;
    const names = Object.fromEntries(list.data.map((c) => [c.psid, c]));
    const calls = (n) => `${n} call${n === 1 ? '' : 's'}`;
    this.count.textContent = log.total > log.data.length ? `${calls(log.total)}; the latest ${log.data.length} shown.` : `${calls(log.total)}.`;
    const rows = log.data.slice().reverse().map((s) => {
      const c = names[s.psid];
      const type = s.sender_action ? `sender_action ${s.sender_action}` : [s.messaging_type, s.tag].filter(Boolean).join(' · ');
      return h('tr', { class: s.outcome, 'data-seq': s.seq, 'data-outcome': s.outcome },
        h('td', {}, s.seq),
        h('td', {}, fmtShort(Date.parse(s.at))),
        h('td', {}, s.other_app ? h('span', { class: 'via' }, `other (${s.app_id})`) : 'this app'),
        h('td', {}, c ? h('a', { href: convLink(c) }, displayName(c)) : s.psid || '—'),
        h('td', { class: 'mono' }, type || '—'),
        h('td', {}, s.text != null ? s.text : s.raw != null ? h('code', {}, s.raw) : '—'),
        h('td', { class: 'outcome' }, s.outcome === 'sent'
          ? h('span', { class: 'ok' }, '✓ sent', h('br'), h('code', { class: 'muted' }, s.message_id || ''))
          : h('span', { class: 'bad' }, `✕ ${s.error.code}${s.error.subcode ? '/' + s.error.subcode : ''}`)),
        h('td', {}, s.error ? [h('div', {}, s.error.meaning + (s.error.transient ? ' (transient)' : '')),
          h('div', { class: 'muted small' }, s.error.message), h('div', { class: 'small' }, 'Next: ' + s.error.next)] : ''));
    });
    swap(this.table, rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No Send API calls match.')));
  },
};

// ---------------------------------------------------------------------------
// Webhook deliveries

const webhooks = {
  mount(main) {
    this.status = h('div', { id: 'webhook-status' });
    this.table = h('tbody', { id: 'webhook-rows' });
    main.append(h('div', { class: 'panel' }, h('h1', {}, 'Webhook deliveries'),
      h('p', { class: 'muted' }, 'Each signed POST, newest first, with every attempt: retried at once, then after 30 s doubling to 15 min; after an hour of failures Meta unsubscribes the app.'),
      this.status,
      h('table', {}, h('thead', {}, h('tr', {}, ['#', 'Made', 'Events', 'Attempts', 'State', 'Body'].map((t) => h('th', { scope: 'col' }, t)))), this.table)));
  },

  async refresh() {
    const [w, list] = await Promise.all([get('/_mock/webhooks?limit=200'), get('/_mock/conversations')]);
    const names = Object.fromEntries(list.data.map((c) => [c.psid, displayName(c)]));
    swap(this.status,
      h('p', {}, w.url ? ['Delivering to ', h('code', {}, w.url), '. '] : 'No webhook URL: events are recorded, not delivered (start mock-graph with --webhook-url). ',
        w.subscribed ? h('span', { class: 'ok' }, 'Subscribed.') : h('span', { class: 'bad' }, 'Unsubscribed: Meta gave up after an hour of failures.'),
        ` Waiting: ${w.waiting} event${w.waiting === 1 ? '' : 's'}; ${w.retrying} ${w.retrying === 1 ? 'delivery' : 'deliveries'} to retry`,
        w.next_due ? `, next at ${fmtShort(Date.parse(w.next_due))}.` : '.'),
      w.total > w.data.length ? h('p', { class: 'muted' }, `${w.total} deliveries; the latest ${w.data.length} shown.`) : null);
    const rows = w.data.slice().reverse().map((d) => h('tr', { 'data-delivery': d.id, 'data-state': d.state.state },
      h('td', {}, d.id, d.late_copy_of ? h('div', { class: 'small muted' }, `late copy of #${d.late_copy_of}`) : null),
      h('td', {}, fmtShort(Date.parse(d.created))),
      h('td', {}, events(d.id, d.events, names)),
      h('td', {}, d.attempts.length ? h('ol', { class: 'attempts' }, d.attempts.map((a) => h('li', {},
        fmtTime(Date.parse(a.at)), ' → ',
        a.status != null ? h('span', { class: a.ok ? 'ok' : 'bad' }, String(a.status)) : h('span', { class: 'bad' }, a.error || (a.ok == null ? 'sending…' : '')),
        a.duplicated ? ' (sent twice)' : '',
        a.batched_with ? h('div', { class: 'small muted' }, 'in one POST with ' + a.batched_with.join(', ')) : null))) : h('span', { class: 'muted' }, 'not yet')),
      h('td', {}, stateText(d.state)),
      h('td', {}, h('details', { class: 'body', 'data-key': 'body-' + d.id }, h('summary', {}, 'JSON'), h('pre', {}, d.body)))));
    swap(this.table, rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No deliveries yet.')));
  },
};

// A delivery's events, one chip each; a big batch (a weekend arriving at once) as
// counts by kind, each event a click away.
function events(id, list, names) {
  const chips = list.map((e) => h('span', { class: 'chip' + (e.standby ? ' standby' : ''), title: e.psid ? 'PSID ' + e.psid : 'the page' },
    e.kind, e.psid ? ' · ' + (names[e.psid] || e.psid) : '', e.standby ? ' (standby)' : ''));
  if (list.length <= 6) return chips;
  const counts = {};
  for (const e of list) counts[e.kind] = (counts[e.kind] || 0) + 1;
  return [Object.entries(counts).map(([kind, n]) => h('span', { class: 'chip' }, `${kind} × ${n}`)),
    h('details', { 'data-key': 'events-' + id }, h('summary', {}, `each of the ${list.length} events`), chips)];
}

function stateText(s) {
  switch (s.state) {
    case 'delivered': return h('span', { class: 'ok' }, 'delivered');
    case 'retrying': return h('span', { class: 'bad' }, `retry at ${fmtShort(Date.parse(s.next_at))}`);
    case 'late_copy': return h('span', { class: 'bad' }, `lost; sent again late as #${s.copy}`);
    case 'abandoned': return h('span', { class: 'bad' }, 'abandoned: app unsubscribed');
    default: return s.state;
  }
}

// ---------------------------------------------------------------------------
// The page's record

const LEVEL_COLOURS = { '1d': '#f5a623', '3d': '#ef7d1a', '7d': '#e4572e', '365d': '#c0392b', permanent: '#6d0f0f' };

const record = {
  mount(main) {
    this.body = h('div', { id: 'record' });
    main.append(h('div', { class: 'panel' }, h('h1', {}, 'The page\'s record'),
      h('p', { class: 'muted' }, 'Warnings and restrictions along virtual time. Meta publishes no ladder: mock-graph simulates the rungs reported in practice, a warning first.'),
      this.body));
  },

  async refresh() {
    const r = await get('/_mock/record');
    tagsCache = r.tags;
    const force = r.in_force;
    const ladder = [];
    r.ladder.forEach((rung, i) => {
      if (i) ladder.push(h('li', { class: 'arrow', 'aria-hidden': 'true' }, '→'));
      ladder.push(h('li', { class: (rung.reached ? 'reached ' : '') + (rung.in_force ? 'in-force' : ''), 'data-rung': rung.level }, rung.level));
    });
    swap(this.body,
      h('div', { class: 'cards' },
        h('div', { class: 'card' + (force ? ' alert' : ''), id: 'in-force' },
          h('div', { class: 'muted' }, 'In force now'),
          force ? [h('div', { class: 'big' }, `${force.level} restriction`),
            h('div', {}, force.until ? ['until ', fmtDate(Date.parse(force.until)), ' · ', h('span', { 'data-until': force.until }, '')] : 'permanent: only an appeal lifts it'),
            h('div', { class: 'small muted' }, force.reason)]
            : h('div', { class: 'big ok' }, 'Nothing')),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Warnings'), h('div', { class: 'big', id: 'warnings' }, r.warnings)),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Next offence brings'), h('div', { class: 'big', id: 'next-offence' }, r.next_offence)),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Rules era'), h('div', { class: 'big' }, r.rules))),
      h('h2', {}, 'The ladder'),
      h('ol', { class: 'ladder', 'aria-label': 'The restriction ladder' }, ladder),
      h('h2', {}, 'Timeline'),
      timeline(r),
      h('h2', {}, 'Notices'),
      r.notices.length ? h('table', { id: 'notices' },
        h('thead', {}, h('tr', {}, ['When', 'Notice', 'Level', 'Until', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, r.notices.slice().reverse().map((n) => h('tr', { 'data-notice': n.action },
          h('td', {}, fmtDate(Date.parse(n.at))), h('td', {}, n.action), h('td', {}, n.level || ''),
          h('td', {}, n.until ? fmtDate(Date.parse(n.until)) : n.action === 'block' ? 'permanent' : ''),
          h('td', {}, n.reason || '')))))
        : h('p', { class: 'muted' }, 'A clean record: no warning, no restriction.'));
    tick();
  },
};

// The record as an SVG chart: warnings as diamonds, restrictions as bars from their
// start to their end (a permanent one runs off the right edge), and now.
function timeline(r) {
  const W = 960, H = 150, left = 100, right = 20, laneW = 45, laneR = 90, axis = 125;
  const now = Date.parse(r.now);
  const times = [Date.parse(r.start), now, ...r.notices.map((n) => Date.parse(n.at))];
  for (const x of r.restrictions) if (x.until) times.push(Date.parse(x.until));
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t1 - t0 < 86400e3) t1 = t0 + 86400e3;
  t1 += (t1 - t0) * 0.04;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
  const parts = [
    h('text', { x: 8, y: laneW + 4, class: 'lane' }, 'Warnings'),
    h('text', { x: 8, y: laneR + 4, class: 'lane' }, 'Restrictions'),
    h('line', { x1: left, x2: W - right, y1: axis, y2: axis, stroke: '#999' }),
  ];
  // Ticks at round instants, at most about eight; midnight shows the day.
  const steps = [3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3, 365 * 86400e3];
  const step = steps.find((s) => (t1 - t0) / s <= 8) || steps[steps.length - 1];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const label = t % 86400e3 === 0 ? dayFmt.format(new Date(t)) : fmtTime(t).slice(0, 5);
    parts.push(h('line', { x1: x(t), x2: x(t), y1: axis, y2: axis + 5, stroke: '#999' }),
      h('text', { x: x(t), y: axis + 18, 'text-anchor': 'middle' }, label));
  }
  for (const rest of r.restrictions) {
    const a = x(Date.parse(rest.since));
    const b = rest.until ? x(Math.min(Date.parse(rest.until), t1)) : W - right;
    const width = Math.max(4, b - a);
    parts.push(h('g', { 'data-kind': 'restriction', 'data-level': rest.level },
      h('title', {}, `${rest.level} restriction from ${fmtDate(Date.parse(rest.since))} ${rest.until ? 'to ' + fmtDate(Date.parse(rest.until)) : '(permanent)'}: ${rest.reason}`),
      h('rect', { x: a, y: laneR - 14, width, height: 28, rx: 5, fill: LEVEL_COLOURS[rest.level] || '#c0392b' }),
      h('text', { x: a + 4, y: laneR - 18 }, rest.level + (rest.until ? '' : ' →'))));
  }
  for (const n of r.notices) {
    const cx = x(Date.parse(n.at));
    if (n.action === 'warning') {
      parts.push(h('g', { 'data-kind': 'warning' }, h('title', {}, `Warning at ${fmtDate(Date.parse(n.at))}: ${n.reason || ''}`),
        h('polygon', { points: `${cx},${laneW - 9} ${cx + 9},${laneW} ${cx},${laneW + 9} ${cx - 9},${laneW}`, fill: '#f5a623', stroke: '#8a5a00' })));
    } else if (n.action === 'unblock') {
      parts.push(h('g', { 'data-kind': 'unblock' }, h('title', {}, `Restriction ended at ${fmtDate(Date.parse(n.at))}`),
        h('line', { x1: cx, x2: cx, y1: laneR - 18, y2: laneR + 18, stroke: '#1b8a3c', 'stroke-width': 3 })));
    }
  }
  parts.push(h('g', { 'data-kind': 'now' },
    h('line', { x1: x(now), x2: x(now), y1: 15, y2: axis, stroke: '#0a7cff', 'stroke-dasharray': '4 3', 'stroke-width': 2 }),
    h('text', { x: x(now), y: 12, 'text-anchor': 'middle', fill: '#0a7cff' }, 'now')));
  const summary = `${r.warnings} warning(s), ${r.restrictions.length} restriction(s) between ${fmtDate(t0)} and ${fmtDate(now)}`;
  return h('svg', { class: 'timeline', id: 'timeline', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary }, parts);
}

// ---------------------------------------------------------------------------
// Faults

const FAULTS = [
  ['error_rate', 'number', 'Share of Send API calls failing with 500 (code 2)', '0.1', '0.01'],
  ['rate_limit_burst', 'number', 'The next this-many Send API calls get 613', '3', '1'],
  ['latency_ms', 'number', 'Real milliseconds before each Send API answer', '400', '1'],
  ['drop_rate', 'number', 'Share of webhook deliveries lost in transit', '0.1', '0.01'],
  ['duplicate_rate', 'number', 'Share of webhook deliveries arriving twice', '0.1', '0.01'],
  ['reorder_rate', 'number', 'Share of batches with events reversed', '0.1', '0.01'],
  ['echo_lag', 'text', 'This app\'s echoes arrive this much later (virtual time)', '5m'],
  ['late_redelivery', 'text', 'Every delivery arrives again this much later', '1h'],
  ['profile_latency_ms', 'number', 'Real milliseconds before each profile lookup', '300', '1'],
  ['profile_error_rate', 'number', 'Share of profile lookups failing with 500', '0.1', '0.01'],
];

const faults = {
  mount(main) {
    this.inputs = {};
    const rows = FAULTS.map(([name, type, help, example, step]) => {
      const input = h('input', { id: 'fault-' + name, name, type, step, min: type === 'number' ? 0 : undefined, placeholder: example, 'aria-describedby': 'help-' + name });
      this.inputs[name] = input;
      return h('tr', {}, h('td', {}, h('label', { for: 'fault-' + name }, h('code', {}, name))), h('td', {}, input),
        h('td', { id: 'help-' + name, class: 'muted' }, help));
    });
    this.current = h('p', { id: 'faults-now' });
    const form = h('form', {
      id: 'faults-form',
      onsubmit: (e) => {
        e.preventDefault();
        const body = {};
        for (const [name, type] of FAULTS) {
          const v = this.inputs[name].value.trim();
          if (v !== '') body[name] = type === 'number' ? Number(v) : v;
        }
        act(() => post('/_mock/faults', body)).then((f) => f && this.fill(f));
      },
    }, h('table', {}, h('tbody', {}, rows)),
    h('div', { class: 'row-form', style: 'margin-top:.8rem' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply (replaces them all)'),
      h('button', { type: 'button', onclick: () => act(() => post('/_mock/faults', {})).then((f) => f && this.fill(f)) }, 'Clear every fault')));
    main.append(h('div', { class: 'panel' }, h('h1', {}, 'Faults'),
      h('p', { class: 'muted' }, 'Meta misbehaving on purpose; every random choice is drawn from the seed.'),
      this.current, form));
    this.filled = false;
  },

  fill(f) {
    for (const [name] of FAULTS) {
      const v = f[name];
      this.inputs[name].value = v === 0 || v === '0s' ? '' : v;
    }
    this.filled = true;
  },

  async refresh() {
    const f = await get('/_mock/faults');
    // The form is filled once; later changes show above it, so nobody's edit is lost.
    if (!this.filled) this.fill(f);
    const on = FAULTS.map(([n]) => n).filter((n) => f[n] !== 0 && f[n] !== '0s');
    swap(this.current, on.length ? ['In force: ', on.map((n) => h('span', { class: 'chip' }, `${n} = ${f[n]}`))] : 'No fault in force: Meta behaves.');
  },
};

// ---------------------------------------------------------------------------
// Scenario: load one, then play its customer side step by step, with pause

const player = { playing: false, timer: null, pace: 1000 };

async function nextStep() {
  const s = await get('/_mock/scenario');
  if (!s.next) return false;
  await post('/_mock/clock', { to: s.next });
  return true;
}

function play() {
  player.playing = true;
  showPlaying();
  const step = async () => {
    if (!player.playing) return;
    let more = false;
    try { more = await nextStep(); } catch (e) { showError(e.message); }
    await refresh();
    if (more && player.playing) player.timer = setTimeout(step, player.pace);
    else pause();
  };
  step();
}

function pause() {
  player.playing = false;
  clearTimeout(player.timer);
  showPlaying();
}

function showPlaying() {
  document.getElementById('playing').hidden = !player.playing;
  for (const b of document.querySelectorAll('[data-play]')) b.textContent = player.playing ? 'Pause' : 'Play';
}

const scenario = {
  mount(main) {
    const text = h('textarea', { id: 'scenario-text', placeholder: 'name = "my-scenario"\nstart = "2026-11-20T09:00:00Z"\n\n[customers.ada]\nname = "Ada Lovelace"\n\n[[step]]\nat = "0s"\ncustomer = "ada"\nsays = "Hi!"', spellcheck: 'false' });
    const file = h('input', {
      id: 'scenario-file', type: 'file', accept: '.toml,text/plain',
      onchange: async () => { if (file.files[0]) text.value = await file.files[0].text(); },
    });
    const pace = h('select', { id: 'pace', onchange: () => { player.pace = Number(pace.value); } },
      [['250', '4 steps a second'], ['1000', '1 step a second'], ['3000', '1 step every 3 s']].map(([v, t]) => h('option', { value: v }, t)));
    pace.value = String(player.pace);
    this.status = h('div', { id: 'scenario-status' });
    this.steps = h('div', { class: 'steps' });
    main.append(
      h('div', { class: 'panel' }, h('h1', {}, 'Scenario'),
        h('p', { class: 'muted' }, 'A scenario file (see scenarios/README.md) replaces everything: its start, seed, rules, page and customers. Its customer side then fires as the clock passes each step; agents\' steps need a bot and are skipped.'),
        h('form', {
          onsubmit: (e) => {
            e.preventDefault();
            act(() => post('/_mock/scenario', text.value)).then((r) => { if (r) tagsCache = null; });
          },
        }, h('div', { class: 'row-form' }, h('label', { for: 'scenario-file' }, 'File'), file),
        h('label', { for: 'scenario-text' }, 'TOML'), text,
        h('div', { class: 'row-form' }, h('button', { type: 'submit', class: 'primary', id: 'scenario-load' }, 'Load (starts over)')))),
      h('div', { class: 'panel' }, h('h2', {}, 'Play'), this.status,
        h('div', { class: 'row-form' },
          h('button', { type: 'button', id: 'step', onclick: () => act(nextStep) }, 'Next step'),
          h('button', { type: 'button', 'data-play': true, onclick: () => (player.playing ? pause() : play()) }, player.playing ? 'Pause' : 'Play'),
          h('label', { for: 'pace' }, 'Pace'), pace),
        this.steps));
  },

  async refresh() {
    const s = await get('/_mock/scenario');
    const l = s.loaded;
    swap(this.status, l
      ? h('p', {}, h('strong', {}, l.name), ` · ${Object.keys(l.customers).length} customers · ${l.scheduled} steps scheduled, ${s.pending.length} still to fire · ${l.skipped} skipped (need a bot)`,
        s.next ? ` · next at ${fmtDate(Date.parse(s.next))}` : ' · done')
      : h('p', { class: 'muted' }, 'No scenario loaded.'));
    const shown = s.pending.slice(0, 200);
    swap(this.steps, shown.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['When', 'Customer', 'Step', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, shown.map((p) => h('tr', {},
        h('td', {}, fmtShort(Date.parse(p.at))),
        h('td', {}, p.psid ? h('a', { href: `#/c/${encodeURIComponent(p.label || p.psid)}` }, p.label || p.psid) : '—'),
        h('td', {}, p.kind), h('td', {}, p.detail)))))
      : null, s.pending.length > shown.length ? h('p', { class: 'muted' }, `… and ${s.pending.length - shown.length} more.`) : null);
  },
};

// ---------------------------------------------------------------------------
// The shell: routing, the clock, live updates

const VIEWS = { conversations, sent, webhooks, record, faults, scenario };
let current = null;

function mount() {
  const r = route();
  current = VIEWS[r.view];
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const a of document.querySelectorAll('nav a')) {
    a.setAttribute('aria-current', a.dataset.nav === r.view ? 'page' : 'false');
  }
  current.mount(main, r);
  refresh();
}

// Fetches what the clock and the current view show. One refresh runs at a time; asked
// for while one runs, another follows it, so answers render in order and the last
// change is always shown.
let running = null;
let again = false;
function refresh() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      try {
        clock.realtime = (await get('/_mock/clock')).realtime;
        tick();
        await current.refresh();
        tick();
        document.body.dataset.ready = 'true';
      } catch (e) {
        showError(e.message);
      }
    } while (again);
    running = null;
  })();
  return running;
}

// Changes arrive in bursts (a broadcast is a hundred sends): one refresh per burst.
let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 80);
}

function listen() {
  const live = document.getElementById('live');
  const events = new EventSource('/_mock/events');
  const on = (yes) => {
    live.classList.toggle('on', yes);
    live.title = yes ? 'Live updates: connected' : 'Live updates: reconnecting';
  };
  events.addEventListener('hello', (e) => { on(true); noteNow(JSON.parse(e.data)); refreshSoon(); });
  events.addEventListener('change', (e) => { noteNow(JSON.parse(e.data)); refreshSoon(); });
  events.onerror = () => on(false);
}

function setupClock() {
  for (const b of document.querySelectorAll('[data-advance]')) {
    b.addEventListener('click', () => act(() => post('/_mock/clock', { advance: b.dataset.advance })));
  }
  const to = document.getElementById('clock-to');
  document.getElementById('clock-set').addEventListener('submit', (e) => {
    e.preventDefault();
    // The field is UTC: the page shows every time in UTC.
    const value = to.value.length === 16 ? to.value + ':00' : to.value;
    act(() => post('/_mock/clock', { to: value + 'Z' }));
  });
  to.addEventListener('focus', () => {
    if (!to.value && virtualNow() !== null) to.value = iso(virtualNow()).slice(0, 19);
  });
  document.getElementById('pause').addEventListener('click', pause);
  document.getElementById('error-close').addEventListener('click', clearError);
}

window.addEventListener('hashchange', mount);
document.addEventListener('DOMContentLoaded', () => {
  setupClock();
  mount();
  listen();
  setInterval(tick, 1000);
});
