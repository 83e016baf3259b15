// daestro console: the only script. It makes a running run's log live
// (EventSource on the console's stream) and a cron form's next triggers
// follow what is typed, and copies text on click.
(function () {
  'use strict';
  document.querySelectorAll('pre[data-follow]').forEach(function (pre) {
    var status = document.getElementById(pre.dataset.status);
    var es = new EventSource(pre.dataset.follow);
    var say = function (t) { if (status) { status.textContent = t; } };
    say('following the run live…');
    es.addEventListener('line', function (e) {
      var l = JSON.parse(e.data);
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      var span = document.createElement('span');
      span.className = l.stream === 'stderr' ? 'stderr' : 'stdout';
      span.setAttribute('data-seq', l.seq);
      span.textContent = l.text + (l.partial ? '' : '\n');
      pre.appendChild(span);
      if (atEnd) { pre.scrollTop = pre.scrollHeight; }
    });
    es.addEventListener('end', function () {
      es.close();
      say('the run has finished; reloading for its outcome and charts…');
      window.setTimeout(function () { window.location.reload(); }, 1500);
    });
    es.addEventListener('error', function (e) {
      if (e.data) { say(JSON.parse(e.data).message); es.close(); }
      else if (es.readyState === EventSource.CONNECTING) { say('reconnecting…'); }
    });
  });
  document.querySelectorAll('button[data-copy]').forEach(function (b) {
    b.addEventListener('click', function () {
      var src = document.getElementById(b.dataset.copy);
      var text = src.value !== undefined ? src.value : src.textContent;
      var done = function () { b.textContent = 'Copied'; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(src);
        var sel = window.getSelection();
        sel.removeAllRanges(); sel.addRange(range);
        document.execCommand('copy'); done();
      }
    });
  });
  // A field's error sentence, as the pages render it next to the field:
  // set (or, with an empty msg, cleared) by the scripts below.
  var fieldError = function (input, field, msg) {
    var box = input.closest('.field');
    var p = document.getElementById('err-' + field);
    if (!msg) {
      if (p) { p.remove(); }
      box.classList.remove('has-error');
      input.removeAttribute('aria-invalid');
      var hint = document.getElementById('hint-' + field);
      if (hint) { input.setAttribute('aria-describedby', hint.id); } else { input.removeAttribute('aria-describedby'); }
      return;
    }
    if (!p) {
      p = document.createElement('p');
      p.className = 'error';
      p.id = 'err-' + field;
      p.setAttribute('role', 'alert');
      input.insertAdjacentElement('afterend', p);
    }
    p.textContent = msg;
    box.classList.add('has-error');
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', p.id);
  };
  // The next triggers of a cron form's expression and zone, asked of the
  // server a moment after the user stops typing; a bad value gets the API's
  // sentence next to its field. Without the script the form still submits.
  document.querySelectorAll('ol[data-cron-preview]').forEach(function (list) {
    var inputs = {expression: document.getElementById(list.dataset.expression), time_zone: document.getElementById(list.dataset.zone)};
    var status = document.getElementById(list.dataset.status);
    var timer = null, asked = 0;
    var show = function (b) {
      Object.keys(inputs).forEach(function (f) { fieldError(inputs[f], f, b.field === f ? b.message : ''); });
      status.textContent = b.status;
      list.replaceChildren.apply(list, (b.items || []).map(function (it) {
        var li = document.createElement('li');
        var utc = document.createElement('span');
        utc.className = 'muted';
        utc.textContent = '(' + it.at_utc + ')';
        li.append(it.at + ' ', utc);
        return li;
      }));
    };
    var ask = function () {
      var n = ++asked;
      var q = new URLSearchParams({expression: inputs.expression.value, time_zone: inputs.time_zone.value});
      fetch(list.dataset.cronPreview + '?' + q.toString(), {headers: {Accept: 'application/json'}})
        .then(function (r) { return r.json(); })
        .then(function (b) { if (n === asked) { show(b); } })
        .catch(function () { if (n === asked) { status.textContent = 'Could not read the next triggers: reload the page (the session may have ended).'; } });
    };
    Object.keys(inputs).forEach(function (f) {
      inputs[f].addEventListener('input', function () { window.clearTimeout(timer); timer = window.setTimeout(ask, 300); });
    });
  });
  // Pages of jobs that are still on their way refresh themselves (a meta
  // refresh would reload while the user types).
  var r = document.querySelector('[data-refresh]');
  if (r) { window.setTimeout(function () { window.location.reload(); }, Number(r.dataset.refresh) * 1000); }
})();
