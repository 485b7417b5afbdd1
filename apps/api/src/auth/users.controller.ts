import { Body, Controller, Get, Param, Patch, Post, Put } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { UserRecord } from '@keyflow/db';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { Access, CurrentPrincipal } from './access.decorator';
import { UserCreateDto, UserGrantsDto, UserListResponseDto, UserResponseDto, UserUpdateDto } from './dto/auth.dto';
import type { Principal } from './principal';
import { UsersService } from './users.service';

function toResponse(user: UserRecord): UserResponseDto {
  const { disabledAt, ...rest } = user;
  return { ...rest, disabled: disabledAt !== undefined, ...(disabledAt ? { disabledAt } : {}) };
}

const USERNAME_PARAM = { name: 'username', example: 'ada' };

@ApiTags('auth')
@ApiCookieAuth()
@ApiBearerAuth()
@Access('admin')
@Controller('v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a user (admins only)',
    description:
      'The password is stored as an argon2id hash. A new user may read and write exactly what `grants` says: ' +
      'nothing when it is absent.',
  })
  @ApiCreatedResponse({ type: UserResponseDto })
  @ApiProblemResponses(400, 401, 403, 409)
  async create(@Body() body: UserCreateDto): Promise<UserResponseDto> {
    return toResponse(
      await this.users.create({
        username: body.username,
        password: body.password,
        role: body.role ?? 'user',
        ...(body.grants !== undefined ? { grants: body.grants } : {}),
      }),
    );
  }

  @Get()
  @ApiOperation({ summary: 'List users (admins only)' })
  @ApiOkResponse({ type: UserListResponseDto })
  @ApiProblemResponses(401, 403)
  async list(): Promise<UserListResponseDto> {
    return { users: (await this.users.list()).map(toResponse) };
  }

  @Put(':username/grants')
  @ApiOperation({
    summary: 'Set what a user may read and write (admins only)',
    description:
      'Replaces the user’s grants. Their sessions and tokens act with the new ones from their next request, on every ' +
      'instance (a token keeps its own narrower grants, within the new ones).',
  })
  @ApiParam(USERNAME_PARAM)
  @ApiOkResponse({ type: UserResponseDto })
  @ApiProblemResponses(400, 401, 403, 404)
  async setGrants(@Param('username') username: string, @Body() body: UserGrantsDto): Promise<UserResponseDto> {
    return toResponse(await this.users.setGrants(username, body.grants));
  }

  @Patch(':username')
  @ApiOperation({
    summary: 'Disable or enable a user (admins only)',
    description:
      '`{"disabled": true}` refuses the user’s logins and ends their sessions and tokens at once on every instance; ' +
      '`false` lets them log in again (their unexpired, unrevoked tokens work again). You cannot disable yourself.',
  })
  @ApiParam(USERNAME_PARAM)
  @ApiOkResponse({ type: UserResponseDto })
  @ApiProblemResponses(400, 401, 403, 404)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('username') username: string,
    @Body() body: UserUpdateDto,
  ): Promise<UserResponseDto> {
    return toResponse(await this.users.setDisabled(principal, username, body.disabled));
  }
}
