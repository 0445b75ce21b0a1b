/* `iotconform fleet`: a simulated fleet of devices on one event loop. */
#ifndef IOTC_FLEET_H
#define IOTC_FLEET_H

/* The subcommand: argv[0] is "fleet". Exit status: 0 nothing lost and every device
 * connected at the end, 1 otherwise, 2 for usage, spec or setup errors. */
int iotc_fleet_main(int argc, char **argv);
/* `iotconform fleet-merge SHARD.json...`: exact fleet-wide totals of a sharded run. Exit
 * status: 0 nothing lost, 1 otherwise, 2 for missing, duplicated or foreign shards. */
int iotc_fleet_merge_main(int argc, char **argv);

#endif
