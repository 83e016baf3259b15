// daestro console: the only script. It makes two things live — a running
// run's log (EventSource on the console's stream) — and copies text on click.
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
  // Pages of jobs that are still on their way refresh themselves (a meta
  // refresh would reload while the user types).
  var r = document.querySelector('[data-refresh]');
  if (r) { window.setTimeout(function () { window.location.reload(); }, Number(r.dataset.refresh) * 1000); }
})();
