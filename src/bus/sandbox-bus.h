/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The bus API shared by sandboxd and sandboxctl: one object, one interface, named errors. */

#define SANDBOXD_SOCKET_DEFAULT "/run/sandboxd/private"
#define SANDBOXD_OBJECT_PATH "/org/sandboxd1"
#define SANDBOXD_MANAGER_IFACE "org.sandboxd1.Manager"

#define SANDBOXD_ERROR_NO_SUCH_UNIT "org.sandboxd1.Error.NoSuchUnit"
#define SANDBOXD_ERROR_BAD_UNIT "org.sandboxd1.Error.BadUnitFile"
#define SANDBOXD_ERROR_START_FAILED "org.sandboxd1.Error.StartFailed"
#define SANDBOXD_ERROR_START_LIMIT_HIT "org.sandboxd1.Error.StartLimitHit"
#define SANDBOXD_ERROR_UNIT_BUSY "org.sandboxd1.Error.UnitBusy"
#define SANDBOXD_ERROR_SHUTTING_DOWN "org.sandboxd1.Error.ShuttingDown"
#define SANDBOXD_ERROR_IMPORT_FAILED "org.sandboxd1.Error.ImportFailed"
