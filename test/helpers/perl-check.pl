#!/usr/bin/perl
# Differential-test oracle for the negotiate checks: run the Perl ldirectord's own
# check_<service> sub on the first real of the first virtual of a config file, and print
# what it decided as one line `RESULT {"up": true|false, "reason": "...", "reasons": [...]}`.
#
# The packaged /usr/sbin/ldirectord is read as text and its main program is replaced by
# the code below (as test/compat/perl-parse.pl does for the parser); service_set, which
# would log and run ipvsadm, is replaced by a recorder. Nothing else is changed, so the
# check is the daemon's own. check_sip prints its request/reply on stdout (W-18), which
# is why the result line has a prefix.
#
# usage: perl-check.pl CONFIG   (env LDIRECTORD_PERL overrides /usr/sbin/ldirectord)
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

my $main = <<'MAIN';
use JSON::PP;
$opt_d = 1;   # as --check: do not require the log file to be writable
$DAEMON_STATUS = $DAEMON_STATUS_STARTING;
$CONFIG = $ENV{LD_TEST_CONFIG};
$CFGNAME = 'test';
$HOSTNAME = 'director.example.test';
{
	no warnings 'redefine';
	*main::config_error = sub { my ($line, $msg) = @_; die "config error at line $line: $msg"; };
	*main::config_warn = sub { };
}
read_config();
ld_setup();
$DEBUG = 0;
my @calls;
{
	no warnings 'redefine';
	*main::service_set = sub { my ($v, $r, $state, $flags, $msg) = @_; push @calls, [$state, $msg]; };
}
my $v = $VIRTUAL[0];
my $r = $v->{real}[0];
my %check = (ldap => \&check_ldap, ldaps => \&check_ldap, dns => \&check_dns, radius => \&check_radius, sip => \&check_sip);
my $sub = $check{$v->{service}} or die "no check for service $v->{service}\n";
$sub->($v, $r);
die "the check did not call service_set\n" unless @calls;
# check_ldap's `return` inside its eval only leaves the eval: after "Bind failed" or
# "Connection failed" it goes on to set the server down again with "No answer received".
# The state is the last call's; the reason is the first call's (the one meant), and all of
# them are listed.
my $state = $calls[-1][0];
my @reasons = map { $_->[1] // '-' } @calls;
select STDOUT; $| = 1;
print "\nRESULT ", JSON::PP->new->canonical->encode({ up => ($state eq 'up' ? JSON::PP::true : JSON::PP::false), reason => $reasons[0], reasons => \@reasons }), "\n";
exit 0;
MAIN

substr($src, $a, $b + length($main_end) - $a) = $main;
$ENV{PERLIO} = 'perlio';              # the daemon re-execs itself without it
$ENV{LD_TEST_CONFIG} = $ARGV[0] // die "usage: $0 CONFIG\n";
@ARGV = ();
local $0 = $src_path;
eval $src;
die $@ if $@;
