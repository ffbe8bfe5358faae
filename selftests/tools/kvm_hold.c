// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_hold: keep one empty KVM VM alive for the whole test VM boot.
 *
 * Creating the first VM and destroying the last one flips static keys
 * (KVM's preempt notifiers, patched into __schedule) with text_poke_bp.
 * Under QEMU/TCG a CPU racing that patch has been seen to hit the
 * temporary int3 ("Oops: int3" in __schedule); with a VM always open the
 * keys stay set, and the tests' own VMs never patch kernel text.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0) {
		perror("kvm_hold: KVM_CREATE_VM");
		return 1;
	}
	for (;;)
		pause();
}
