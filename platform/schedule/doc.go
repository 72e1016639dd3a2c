// Package schedule parses the cron specs of functions' `config.schedule` and
// computes their ticks. fnrun validates a spec with [Parse] at deploy; the
// store computes the next tick to fire with [Schedule.Next] and, after a
// gap, the latest tick due with [Schedule.Last].
//
// # Specs
//
// A spec is one of:
//
//   - a standard cron line of 5 fields: minute, hour, day of month, month,
//     day of week ("*/5 * * * *": every five minutes);
//   - the same with a leading seconds field (6 fields: "*/10 * * * * *",
//     every ten seconds);
//   - a descriptor: @yearly (@annually), @monthly, @weekly, @daily
//     (@midnight), @hourly, or @every DURATION ("@every 30s", at least 1s,
//     rounded down to whole seconds).
//
// Ticks are computed in UTC; a time zone prefix (CRON_TZ=, TZ=) is
// refused. Ticks of @every are not aligned to the clock: each is DURATION
// after the one before, the first DURATION after the deploy.
//
// # Imports
//
// This package may import github.com/robfig/cron/v3 and the standard
// library; no other Powny package.
package schedule
