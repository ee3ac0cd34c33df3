#!/usr/bin/perl
# Differential-test oracle: run the Perl ldirectord's own read_config + ld_setup on a file
# and print the result in the JSON shape of `ldirectord --check --json`
# (reference/config-dump.md), or {"error": {"line", "message"}}.
#
# The packaged /usr/sbin/ldirectord is read as text, its main program (from
# `$DAEMON_STATUS = $DAEMON_STATUS_STARTING;` to the end of "main") is replaced by the dump
# below, and two lines are patched so the dump can name the line of each virtual and real
# (Perl keeps no line numbers). Nothing else is changed, so the parse is the daemon's own.
#
# usage: perl-parse.pl CONFIG   (env LDIRECTORD_PERL overrides /usr/sbin/ldirectord)
use strict;
use warnings;

my $src_path = $ENV{LDIRECTORD_PERL} || '/usr/sbin/ldirectord';
open(my $fh, '<', $src_path) or die "cannot read $src_path: $!\n";
my $src = do { local $/; <$fh> };
close($fh);

my $main_start = '$DAEMON_STATUS = $DAEMON_STATUS_STARTING;' . "\nld_init();";
my $main_end = '&ld_exit(0, "Reached end of \"main\"");';
my $a = index($src, $main_start);
my $b = index($src, $main_end);
die "unexpected ldirectord source: main program not found\n" if $a < 0 || $b < 0;

my $patched = 0;
$patched += ($src =~ s/(\t\t\tpush\(\@VIRTUAL, \\%vsrv\);)/$1\n\t\t\t\$vsrv{line} = \$virtual_line;/);
$patched += ($src =~ s/(\$new_rsrv = \{"server"=>\$ip, "port"=>\$port, "failcount"=>0)\};/$1, "line"=>\$line};/);
die "unexpected ldirectord source: cannot patch line numbers\n" unless $patched == 2;

my $dump = <<'DUMP';
use JSON::PP;
$opt_d = 1;   # as --check: do not require the log file to be writable
$DAEMON_STATUS = $DAEMON_STATUS_STARTING;
$CONFIG = $ENV{LD_TEST_CONFIG};
$CFGNAME = 'test';
if (defined $ENV{HOSTNAME}) { $HOSTNAME = $ENV{HOSTNAME}; } else { $HOSTNAME = (POSIX::uname())[1]; }
my @WARN;
{
	no warnings 'redefine';
	*main::config_error = sub {
		my ($line, $msg) = @_;
		$msg =~ s/\r?\n$//;
		print JSON::PP->new->canonical->encode({error => {line => 0 + ($line // 0), message => $msg}}), "\n";
		exit 2;
	};
	*main::config_warn = sub {
		my ($line, $msg) = @_;
		push @WARN, {line => 0 + ($line // 0), message => $msg};
	};
}
read_config();
# Per-real request/receive overrides as parsed (ld_setup fills them in from the virtual).
my %override;
for my $v (@VIRTUAL) {
	for my $r (@{$v->{real}}) {
		$override{"$r"} = [ $r->{request}, $r->{receive} ];
	}
}
ld_setup();
my $T = JSON::PP::true; my $F = JSON::PP::false;
sub yes { my $x = shift; return (defined $x && $x eq 'yes') ? $T : $F; }
sub num { my $x = shift; return defined $x ? 0 + $x : undef; }
sub bare { my $x = shift; return undef unless defined $x; $x =~ s/^\[(.*)\]$/$1/; return $x; }
sub first_set { for my $x (@_) { return $x if defined $x && $x >= 0 } return undef; }
sub status_names {
	my $m = shift;
	return ['all'] if $m == $DAEMON_STATUS_ALL;
	return ['none'] if $m == 0;
	my @n;
	push @n, 'starting' if $m & $DAEMON_STATUS_STARTING;
	push @n, 'running' if $m & $DAEMON_STATUS_RUNNING;
	push @n, 'stopping' if $m & $DAEMON_STATUS_STOPPING;
	push @n, 'reloading' if $m & $DAEMON_STATUS_RELOADING;
	return \@n;
}
sub gfb {
	my $g = shift;
	return undef unless defined $g;
	my $t = $g->{tcp};
	return { address => bare($t->{server}), port => ($t->{port} ? 0 + $t->{port} : undef), forward => $t->{forward} };
}
my @V;
for my $v (@VIRTUAL) {
	my $fb = fallback_find($v);
	my @R;
	for my $r (@{$v->{real}}) {
		my ($req, $rec) = @{$override{"$r"}};
		push @R, {
			line => num($r->{line}), address => bare($r->{server}), port => num($r->{port}),
			forward => $r->{forward}, weight => num($r->{weight}),
			request => (defined $rec || defined $req ? $req : undef), receive => $rec,
			lower => num($r->{'l-threshold'} // 0), upper => num($r->{'u-threshold'} // 0),
		};
	}
	my $fwm = $v->{protocol} eq 'fwm';
	push @V, {
		line => num($v->{line}), id => get_virtual_id_str($v), protocol => $v->{protocol},
		address => ($fwm ? undef : bare($v->{server})), port => ($fwm ? 0 : num($v->{port})),
		fwmark => ($fwm ? num($v->{fwm}) : undef), ipv6 => ($v->{addressfamily} == AF_INET6 ? $T : $F),
		scheduler => $v->{scheduler}, persistent => num($v->{persistent}), netmask => $v->{netmask},
		ops => yes($v->{ops}), schedflags => $v->{schedflags},
		checktype => $v->{checktype},
		negotiateEvery => ($v->{checktype} eq 'combined' ? num($v->{num_connects}) : undef),
		service => $v->{service}, checkport => num($v->{checkport}),
		request => $v->{request}, receive => $v->{receive}, httpmethod => $v->{httpmethod},
		virtualhost => $v->{virtualhost}, login => $v->{login}, passwd => $v->{passwd},
		database => $v->{database}, secret => $v->{secret}, checkcommand => $v->{checkcommand},
		checktimeout => num($v->{checktimeout}), negotiatetimeout => num($v->{negotiatetimeout}),
		checkinterval => num($v->{checkinterval} || $CHECKINTERVAL),
		checkcount => num($v->{checkcount}), failurecount => num($v->{failurecount}),
		quiescent => yes(defined $v->{quiescent} ? $v->{quiescent} : $QUIESCENT),
		cleanstop => yes(defined $v->{cleanstop} ? $v->{cleanstop} : $CLEANSTOP),
		fallback => (defined $fb ? { address => bare($fb->{server}), port => num($fb->{port}), forward => $fb->{forward} } : undef),
		fallbackcommand => (defined $v->{fallbackcommand} ? $v->{fallbackcommand} : $FALLBACKCOMMAND),
		emailalert => (defined $v->{emailalert} ? $v->{emailalert} : ($EMAILALERT eq '' ? undef : $EMAILALERT)),
		emailalertfreq => num(defined $v->{emailalertfreq} ? $v->{emailalertfreq} : $EMAILALERTFREQ),
		emailalertstatus => status_names(defined $v->{emailalertstatus} ? $v->{emailalertstatus} : $EMAILALERTSTATUS),
		smtp => (defined $v->{smtp} ? $v->{smtp} : $SMTP),
		monitorfile => $v->{monitorfile}, servicename => $v->{servicename}, comment => $v->{comment},
		reals => \@R,
	};
}
my %G = (
	checkinterval => num($CHECKINTERVAL),
	checktimeout => num(first_set($CHECKTIMEOUT, $NEGOTIATETIMEOUT, 5)),
	negotiatetimeout => num(first_set($NEGOTIATETIMEOUT, $CHECKTIMEOUT, 30)),
	failurecount => num($FAILURECOUNT), checkcount => num($CHECKCOUNT),
	autoreload => yes($AUTOCHECK), quiescent => yes($QUIESCENT), readdquiescent => yes($READDQUIESCENT),
	cleanstop => yes($CLEANSTOP), fork => yes($FORKING), supervised => yes($SUPERVISED),
	logfile => $LDIRLOG, maintenancedir => $MAINTDIR, callback => $CALLBACK,
	fallbackcommand => $FALLBACKCOMMAND, emailalert => ($EMAILALERT eq '' ? undef : $EMAILALERT),
	emailalertfrom => $EMAILALERTFROM, emailalertfreq => num($EMAILALERTFREQ),
	emailalertstatus => status_names($EMAILALERTSTATUS), smtp => $SMTP,
	execute => [ sort keys %LD_INSTANCE ],
	fallback => gfb($FALLBACK), fallback6 => gfb($FALLBACK6),
);
print JSON::PP->new->canonical->encode({ global => \%G, virtuals => \@V, warnings => \@WARN }), "\n";
exit 0;
DUMP

substr($src, $a, $b + length($main_end) - $a) = $dump;
$ENV{PERLIO} = 'perlio';              # the daemon re-execs itself without it
$ENV{LD_TEST_CONFIG} = $ARGV[0] // die "usage: $0 CONFIG\n";
@ARGV = ();
local $0 = $src_path;
eval $src;
die $@ if $@;
