/* Everything a test guest uses: include this one header. */
#ifndef GUESTS_LIB_GUEST_H
#define GUESTS_LIB_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include "guests/lib/console.h"
#include "guests/lib/desc.h"
#include "guests/lib/pic.h"
#include "guests/lib/processor.h"
#include "guests/lib/report.h"
#include "guests/lib/usermode.h"
#include "lib/string.h"
#include "loader/multiboot.h"

/* The entry every test guest defines. */
int main(uint32_t magic, struct multiboot_info *mbi);

#endif
