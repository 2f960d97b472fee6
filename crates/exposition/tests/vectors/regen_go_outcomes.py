#!/usr/bin/env python3
"""Regenerate go_1_5_1_outcomes.json by pushing inputs to Debian's Go Pushgateway.

Needs the Debian package prometheus-pushgateway (1.5.1 was used), nothing else.

  python3 regen_go_outcomes.py [--gateway prometheus-pushgateway] [--conformance DIR]
  python3 regen_go_outcomes.py --check-openmetrics   # re-verify openmetrics_inputs.json

For every case of text_parse.json with "utf8_names": false it starts (once) a
gateway with --persistence.file= on a free loopback port, PUTs the exact input
bytes (no Content-Type header) to /metrics/job/vec, records the status and the
first line of the response body, reads /api/v1/metrics on success, and DELETEs
/metrics/job/vec before the next input.

For every case file in the conformance folder (default: ../../../../../shared/
conformance/cases, i.e. /work/shared/conformance/cases) it starts a fresh
gateway with the case's "flags", runs the steps in order (protobuf and gzip
steps are skipped) and records each step's status and first body line.
"""
import argparse, base64, http.client, json, os, shlex, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
GATEWAY_OWN = ('push_time_seconds', 'push_failure_time_seconds')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, cmd, flags=()):
        self.port = free_port()
        argv = shlex.split(cmd) + ['--web.listen-address=127.0.0.1:%d' % self.port,
                                   '--persistence.file='] + list(flags)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.request('GET', '/-/ready')[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('gateway not ready')

    def request(self, method, path, body=b'', headers=None):
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def first_line(body):
    return body.decode('utf-8', 'replace').split('\n', 1)[0]


def num(s):
    return {'NaN': 'NaN', '+Inf': '+Inf', '-Inf': '-Inf'}.get(s, None) or float(s)


def stored_families(gw):
    """Families of group {job="vec"} as /api/v1/metrics shows them.

    Labels come back as a JSON object, so their order is the gateway's (sorted),
    not the input's. job="vec" and instance="" (added by the gateway) are dropped."""
    status, body = gw.request('GET', '/api/v1/metrics')
    data = json.loads(body)['data']
    fams = []
    for group in data:
        if group.get('labels') != {'job': 'vec'}:
            continue
        for name, fam in group.items():
            if name in ('labels', 'last_push_successful') or name in GATEWAY_OWN:
                continue
            f = {'name': name}
            if 'help' in fam:
                f['help'] = fam['help']
            f['type'] = fam['type']
            ms = []
            for m in fam['metrics']:
                labels = dict(m['labels'])
                if labels.get('job') == 'vec':
                    del labels['job']
                if labels.get('instance') == '':
                    del labels['instance']
                e = {'labels': sorted([k, v] for k, v in labels.items())}
                if 'value' in m:
                    e['value'] = num(m['value'])
                if 'quantiles' in m:
                    e['summary'] = {'count': int(m['count']), 'sum': num(m['sum']),
                                    'quantiles': sorted(([num(q), num(v)] for q, v in m['quantiles'].items()),
                                                        key=lambda qv: float(qv[0]))}
                if 'buckets' in m:
                    e['histogram'] = {'count': int(m['count']), 'sum': num(m['sum']),
                                      'buckets': sorted(({'le': num(le), 'count': int(c)} for le, c in m['buckets'].items()),
                                                        key=lambda b: float(b['le']))}
                ms.append(e)
            f['metrics'] = ms
            fams.append(f)
    return sorted(fams, key=lambda f: f['name'])


def _count(x):
    return int(x) if isinstance(x, float) and x.is_integer() else x


def api_view(fams):
    """text_parse.json families in the shape stored_families() returns (for comparison)."""
    out = []
    for f in fams:
        g = {'name': f['name']}
        if 'help' in f:
            g['help'] = f['help']
        g['type'] = f['type']
        ms = []
        for m in f['metrics']:
            e = {'labels': sorted(m['labels'])}
            if 'value' in m:
                e['value'] = m['value']
            if 'summary' in m:
                s = m['summary']
                qs = {}
                for q, v in s['quantiles']:
                    qs.setdefault(float(q), [q, v])  # the API keys quantiles by value
                e['summary'] = {'count': s.get('count', 0), 'sum': s.get('sum', 0.0),
                                'quantiles': sorted(qs.values(), key=lambda qv: float(qv[0]))}
            if 'histogram' in m:
                h = m['histogram']
                e['histogram'] = {'count': _count(h.get('count', h.get('count_float', 0))), 'sum': h.get('sum', 0.0),
                                  'buckets': sorted(({'le': b['le'], 'count': _count(b.get('count', b.get('count_float')))}
                                                     for b in h['buckets']), key=lambda b: float(b['le']))}
            ms.append(e)
        g['metrics'] = sorted(ms, key=lambda e: json.dumps(e['labels']))
        out.append(g)
    return sorted(out, key=lambda f: f['name'])


def agrees(case, status, body, stored):
    if 'error' in case:
        return status == 400 and body == case['error']
    if status != 200:
        return False
    norm = sorted(({**f, 'metrics': sorted(f['metrics'], key=lambda e: json.dumps(e['labels']))} for f in stored),
                  key=lambda f: f['name'])
    return json.dumps(api_view(case['families']), sort_keys=True) == json.dumps(norm, sort_keys=True)


def case_bytes(c):
    if 'input_b64' in c:
        return base64.b64decode(c['input_b64'])
    return c['input'].encode('utf-8')


def run_text_parse(cmd, path):
    doc = json.load(open(path, encoding='utf-8'))
    out = []
    gw = Gateway(cmd)
    try:
        for c in doc['cases']:
            if c['utf8_names']:
                continue
            status, body = gw.request('PUT', '/metrics/job/vec', case_bytes(c))
            r = {'name': c['name'], 'status': status, 'body': '' if status == 200 else first_line(body)}
            if status == 200:
                r['stored'] = stored_families(gw)
            r['agrees_with_text_parse_json'] = agrees(c, status, r['body'], r.get('stored'))
            gw.request('DELETE', '/metrics/job/vec')
            out.append(r)
    finally:
        gw.stop()
    return out


def run_conformance(cmd, folder):
    out = []
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith('.json'):
            continue
        case = json.load(open(os.path.join(folder, fn), encoding='utf-8'))
        steps = case.get('steps', [])
        if not any(isinstance(s.get('body'), str) and not s.get('gzip') and 'protobuf' not in s for s in steps):
            continue
        gw = Gateway(cmd, case.get('flags', []))
        try:
            for i, s in enumerate(steps):
                if s.get('gzip') or 'protobuf' in s or not isinstance(s.get('body'), str):
                    continue
                headers = dict(s.get('headers') or {})
                ct = next((v for k, v in headers.items() if k.lower() == 'content-type'), None)
                status, body = gw.request(s['method'], s['path'], s['body'].encode('utf-8'), headers)
                r = {'name': 'conformance/%s/%d' % (fn, i), 'method': s['method'], 'path': s['path'],
                     'input': s['body']}
                if ct is not None:
                    r['content_type'] = ct
                if case.get('flags'):
                    r['flags'] = case['flags']
                r['status'] = status
                r['body'] = '' if status == 200 else first_line(body)
                out.append(r)
        finally:
            gw.stop()
    return out


def check_openmetrics(cmd, path):
    """Re-check the Go 1.5.1 outcomes recorded in openmetrics_inputs.json; returns the mismatches."""
    doc = json.load(open(path, encoding='utf-8'))
    bad = []
    gw = Gateway(cmd)
    try:
        for c in doc['cases']:
            status, body = gw.request('PUT', '/metrics/job/vec', case_bytes(c))
            line = first_line(body)
            stored = stored_families(gw) if status == 200 else None
            gw.request('DELETE', '/metrics/job/vec')
            if 'gateway_rejects' in c:
                ok = status == 400 and line == c['gateway_rejects']
            else:
                ok = agrees(c, status, line, stored)
            if not ok:
                bad.append((c['name'], status, line, stored))
    finally:
        gw.stop()
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gateway', default='prometheus-pushgateway')
    ap.add_argument('--conformance', default=os.path.normpath(os.path.join(HERE, '../../../../../shared/conformance/cases')))
    ap.add_argument('--out', default=os.path.join(HERE, 'go_1_5_1_outcomes.json'))
    ap.add_argument('--check-openmetrics', action='store_true',
                    help='only re-check openmetrics_inputs.json against the gateway, write nothing')
    a = ap.parse_args()
    if a.check_openmetrics:
        bad = check_openmetrics(a.gateway, os.path.join(HERE, 'openmetrics_inputs.json'))
        for b in bad:
            print('MISMATCH', *b)
        print('%d mismatches' % len(bad))
        sys.exit(1 if bad else 0)
    version = subprocess.run([a.gateway, '--version'], capture_output=True, text=True)
    version = (version.stdout + version.stderr).strip().split('\n')[0]
    doc = {
        'generated_by': ('python3 crates/exposition/tests/vectors/regen_go_outcomes.py (gateway: %s). '
                         'Per text_parse.json case with utf8_names=false: one gateway started as '
                         '`prometheus-pushgateway --web.listen-address=127.0.0.1:PORT --persistence.file=`, '
                         'PUT of the exact input bytes without Content-Type to /metrics/job/vec '
                         '(like `curl -X PUT --data-binary @file`), status + first line of the body recorded, '
                         '"stored" = group job="vec" from /api/v1/metrics after a 200 (labels sorted, job and '
                         'instance="" dropped, push_time_seconds/push_failure_time_seconds dropped), then '
                         'DELETE /metrics/job/vec. Per conformance case (shared/conformance/cases): a fresh '
                         'gateway with the case flags, steps run in order, protobuf/gzip steps skipped. '
                         '"agrees_with_text_parse_json": status/body (or stored families, compared label-order-'
                         'and metric-order-insensitively, float counts as numbers) match the expectation in '
                         'text_parse.json (latest expfmt).' % version),
        'gateway_version': version,
        'cases': run_text_parse(a.gateway, os.path.join(HERE, 'text_parse.json')),
    }
    if os.path.isdir(a.conformance):
        doc['cases'] += run_conformance(a.gateway, a.conformance)
    with open(a.out, 'w', encoding='utf-8') as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write('\n')
    print('%d cases written to %s' % (len(doc['cases']), a.out))


if __name__ == '__main__':
    main()
