#!/usr/bin/perl
# Writes a large, deterministic, realistic-looking log to stdout: kubelet and containerd lines,
# HTTP access logs, JSON application logs, Go panics of the ordinary kind, and near misses of
# the diagnose signatures ("no such file or directory" on open, "format error" in configs).
#   gen-noise.pl MEGABYTES [LINE:TEXT ...]
# Each LINE:TEXT puts TEXT on that line number (1-based), for tests and the benchmark.
use strict;
use warnings;

my $mb = shift @ARGV // 10;
my %inject;
for (@ARGV) {
        my ($n, $text) = split /:/, $_, 2;
        $inject{$n} = $text;
}
srand(42);
my @paths = ('/api/v1/items', '/healthz', '/static/app.js', '/login', '/api/v1/orders/1234');
my @pods = ('web-5d4f8b7c9-x2k4q', 'worker-7b9c6d5f4-abcde', 'db-0', 'cache-6f5e4d3c2-zz9yx');
my @near = (
        'WARN open /etc/app/override.yaml: no such file or directory (using defaults)',
        'ERROR config: format error in line 12: expected a mapping',
        'fatal error: all goroutines are asleep - deadlock!',
        'panic: runtime error: invalid memory address or nil pointer dereference',
        'Normal   BackOff    3s    kubelet  Back-off pulling image "nginx:1.27"',
        'level=info msg="executing /usr/local/bin/migrate"',
        'stat /var/cache/app/index: no such file or directory',
);
my $limit = $mb * 1024 * 1024;
my ($bytes, $line) = (0, 0);
my $out = '';
while ($bytes < $limit || %inject) {
        $line++;
        my $text;
        if (exists $inject{$line}) {
                $text = delete $inject{$line};
        } else {
                my $r = rand();
                my $ts = sprintf('2026-11-21T%02d:%02d:%02d.%03dZ', 10 + int($line / 3600000) % 10,
                        int($line / 60000) % 60, int($line / 1000) % 60, $line % 1000);
                my $pod = $pods[int(rand(@pods))];
                if ($r < 0.35) {
                        $text = sprintf('10.%d.%d.%d - - [21/Nov/2026:13:%02d:%02d +0000] "GET %s HTTP/1.1" %d %d "-" "kube-probe/1.31"',
                                int(rand(255)), int(rand(255)), int(rand(255)), int(rand(60)), int(rand(60)),
                                $paths[int(rand(@paths))], (200, 200, 200, 304, 404, 500)[int(rand(6))], int(rand(50000)));
                } elsif ($r < 0.60) {
                        $text = sprintf('{"time":"%s","level":"%s","msg":"request handled","pod":"%s","latency_ms":%d,"trace":"%08x%08x"}',
                                $ts, ('info', 'debug', 'warn')[int(rand(3))], $pod, int(rand(900)), int(rand(2**32)), int(rand(2**32)));
                } elsif ($r < 0.80) {
                        $text = sprintf('I1121 13:%02d:%02d.%06d    %d kubelet.go:%d] "SyncLoop (PLEG): event for pod" pod="default/%s" event={"ID":"%08x","Type":"ContainerStarted"}',
                                int(rand(60)), int(rand(60)), int(rand(1e6)), 1000 + int(rand(9000)), 2000 + int(rand(500)), $pod, int(rand(2**32)));
                } elsif ($r < 0.95) {
                        $text = sprintf('time="%s" level=info msg="StartContainer for \"%08x\" returns successfully" namespace=k8s.io',
                                $ts, int(rand(2**32)));
                } else {
                        $text = "$ts " . $near[int(rand(@near))];
                }
        }
        $out .= "$text\n";
        if (length($out) > 1 << 20) {
                print $out;
                $bytes += length($out);
                $out = '';
        }
}
print $out;
